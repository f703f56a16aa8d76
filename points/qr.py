"""QR images of check-in URLs, household cards and activation slips, as PNG or SVG, made with the qrcode package."""
import functools
import io

import qrcode
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_M

BORDER = 4  # the quiet zone, in modules, that scanners need around a code


def qr_png(text: str, box_size: int = 10) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=BORDER)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    """A scalable image (one path), for print and for the display page at any screen size: 1 mm a module."""
    size, path = _drawn(text)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{size}mm" '
            f'height="{size}mm" viewBox="0 0 {size} {size}">{path}</svg>\n').encode()


def inline_svg(text: str) -> Markup:
    """The QR of text as an <svg> element to put in the page, sized by CSS (.qr): about 1.5 KB for a household card,
    so that a grid's sheet of 150 cards stays light."""
    size, path = _drawn(text)
    return Markup(f'<svg class="qr" role="img" viewBox="0 0 {size} {size}">{path}</svg>')  # noqa: S704  our own text


@functools.lru_cache(maxsize=4096)
def _drawn(text: str) -> tuple[int, str]:
    """The side of the code in modules (quiet zone included) and one <path> drawing it. Cached: choosing the mask
    takes qrcode about 9 ms a code, and a sheet of cards or slips draws the same codes each time it is opened."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=BORDER)
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # rows of booleans, the quiet zone included
    return len(matrix), f'<path d="{_path(matrix)}" stroke="#000" shape-rendering="crispEdges"/>'


def _path(matrix: list[list[bool]]) -> str:
    """Each run of dark modules in a row as one stroke one module wide along the row's middle, moving relatively
    ("M4 4.5h7m2 0h1…"): about a fifth of the bytes of a square per module."""
    parts = []
    for y, row in enumerate(matrix):
        end = None  # where the previous run of this row ended
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start} {y}.5h{x - start}" if end is None else f"m{start - end} 0h{x - start}")
            end = x
    return "".join(parts)

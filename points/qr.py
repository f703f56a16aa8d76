"""QR images of check-in URLs, household cards and activation slips, as PNG or SVG, made with the qrcode package."""
import io
import re

import qrcode
import qrcode.image.svg
from markupsafe import Markup
from qrcode.constants import ERROR_CORRECT_M

_XML_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")


def qr_png(text: str, box_size: int = 10) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    """A scalable image (one path), for print and for the display page at any screen size."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, error_correction=ERROR_CORRECT_M, border=4)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def inline_svg(text: str) -> Markup:
    """The QR of text as an <svg> element to put in the page (sized by CSS: the fixed mm size is dropped)."""
    svg = _XML_DECLARATION.sub("", qr_svg(text).decode())
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*"', '<svg class="qr" role="img"', svg, count=1)
    svg = re.sub(r' id="[^"]*"', "", svg)  # one id per page would repeat on a sheet of cards
    return Markup(svg)  # noqa: S704  made by the qrcode package from our own text

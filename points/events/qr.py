"""QR images of check-in URLs and household cards, as PNG or SVG, made with the qrcode package."""
import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


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

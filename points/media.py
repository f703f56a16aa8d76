"""Photos from phones, for claims, score sheets and the shop's products alike: checked to be JPEG, PNG or WebP,
turned upright, stripped of EXIF (and so of GPS), shrunk, and stored as JPEG under a random name; their thumbnails."""
import io
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DomainError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_SIDE = 1600  # pixels on the long side: enough to see a swept yard, small on a village server's disk
# A phone's largest JPEG is ~50 megapixels, and JPEG decodes straight to a reduced size (draft); a PNG or WebP is
# decoded whole, so it is held to less: a screenshot is ~3 megapixels. Beyond that it is a decompression bomb.
MAX_PIXELS = {"JPEG": 60_000_000, "PNG": 16_000_000, "WEBP": 16_000_000}
JPEG_QUALITY = 82
# A thumbnail fills half of a 360 px phone's width at twice its pixel density: a tenth of the photo's bytes.
THUMB_SIDE = 320
THUMB_QUALITY = 75
THUMB_FOLDER = "thumbs"


@dataclass(frozen=True)
class StoredPhoto:
    filename: str
    width: int
    height: int
    size: int


def clean_photo(data: bytes, max_bytes: int) -> bytes:
    """The photo re-encoded as a JPEG without metadata. Raises DomainError("photo_too_large" | "not_an_image")."""
    if len(data) > max_bytes:
        raise DomainError("photo_too_large", limit=max_bytes // 1048576)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise DomainError("not_an_image")
                if image.width * image.height > MAX_PIXELS[image.format]:
                    raise DomainError("not_an_image")
                if image.format == "JPEG":
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 size: far less memory
                # Shrunk first (the box is square, so turning it later keeps it within bounds), then turned upright
                # by the camera's orientation tag, which is lost with the rest of the EXIF.
                image.thumbnail((MAX_SIDE, MAX_SIDE))
                rgb = ImageOps.exif_transpose(image).convert("RGB")  # PNG transparency and palettes: plain colour
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise DomainError("not_an_image") from None
    out = io.BytesIO()
    # A fresh image carries no info dict: no EXIF, GPS, XMP or ICC comments are written.
    Image.frombytes("RGB", rgb.size, rgb.tobytes()).save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def store_photo(folder: str, jpeg: bytes) -> StoredPhoto:
    """Write a cleaned photo under folder with a random name."""
    os.makedirs(folder, exist_ok=True)
    filename = secrets.token_hex(16) + ".jpg"
    with open(os.path.join(folder, filename), "wb") as handle:
        handle.write(jpeg)
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
    return StoredPhoto(filename, width, height, len(jpeg))


def thumbnail(photo_path: str) -> str:
    """The path of a stored photo's thumbnail (a JPEG of at most THUMB_SIDE px on its long side), made the first time
    it is asked for and kept in a thumbs/ folder beside the photo. The photo is one store_photo wrote: upright,
    without metadata, and never changed under its name, so a thumbnail once made stays true."""
    folder = os.path.join(os.path.dirname(photo_path), THUMB_FOLDER)
    path = os.path.join(folder, os.path.basename(photo_path))
    if os.path.isfile(path):
        return path
    with Image.open(photo_path) as image:
        image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # decoded at 1/4 of 1600 px: 400 px, then shrunk smoothly
        image.thumbnail((THUMB_SIDE, THUMB_SIDE))
        small = image.convert("RGB")
    os.makedirs(folder, exist_ok=True)
    # Written under a temporary name and renamed: two requests making it at once never serve half a file.
    descriptor, partial = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            small.save(handle, "JPEG", quality=THUMB_QUALITY, optimize=True)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return path

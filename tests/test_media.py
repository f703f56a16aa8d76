"""Photos from phones, as claims, score sheets and the shop's products store them: JPEG without EXIF, shrunk, under
a random name; anything else refused."""
import io
import os

import pytest
from PIL import Image

from points.errors import DomainError
from points.media import MAX_SIDE, THUMB_SIDE, clean_photo, store_photo, thumbnail

from . import factories


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_phone_photo_becomes_a_small_jpeg_without_exif(fmt, tmp_path):
    jpeg = clean_photo(factories.gen_photo(fmt), 8 * 1048576)
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and max(image.size) == MAX_SIDE and not image.getexif()
        size = image.size  # turned upright by the camera's orientation tag, which is gone with the rest
    stored = store_photo(str(tmp_path), jpeg)
    assert (tmp_path / stored.filename).read_bytes() == jpeg and (stored.width, stored.height) == size


@pytest.mark.parametrize("data, limit, code", [(b"not a picture", 1000, "not_an_image"),
                                               (b"x" * 2000, 1000, "photo_too_large")])
def test_anything_else_is_refused(data, limit, code):
    with pytest.raises(DomainError) as refused:
        clean_photo(data, limit)
    assert refused.value.code == code


def test_a_thumbnail_is_a_small_jpeg_made_once_beside_the_photo(tmp_path):
    stored = store_photo(str(tmp_path), clean_photo(factories.gen_photo(size=(4000, 3000), gps=False), 8 * 1048576))
    photo = str(tmp_path / stored.filename)
    path = thumbnail(photo)
    assert path == str(tmp_path / "thumbs" / stored.filename)
    with Image.open(path) as small:
        assert small.format == "JPEG" and small.size == (THUMB_SIDE, THUMB_SIDE * 3 // 4)
    assert os.path.getsize(path) < stored.size
    made = os.stat(path).st_mtime_ns
    assert thumbnail(photo) == path and os.stat(path).st_mtime_ns == made  # kept, not made again
    assert os.listdir(tmp_path / "thumbs") == [stored.filename]  # no temporary file left behind

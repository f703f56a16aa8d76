import pytest

from .helpers import build_world


@pytest.fixture
def world(village, tmp_path):
    return build_world(village, tmp_path)

"""Static files and the bytes on the wire (points/assets.py): pages name each static file by a versioned URL that
browsers keep a year, text answers go out compressed when the browser takes it, and what is compressed already
(spreadsheets, photos) or asked for in part goes out as it is."""
import gzip
import hashlib
import io
import re
from pathlib import Path

import brotli
import openpyxl
from flask import url_for

from points.auth.models import Role

from . import factories

STATIC = Path(__file__).resolve().parents[1] / "static"
VERSIONED = re.compile(r'/static/app\.css\?v=([0-9a-f]{12})"')
BROWSER = "gzip, deflate, br, zstd"


def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def test_pages_name_static_files_by_a_version_of_their_content(client):
    page = client.get("/login").get_data(as_text=True)
    assert VERSIONED.search(page).group(1) == _version("app.css")
    assert f"/static/favicon.svg?v={_version('favicon.svg')}" in page


def test_the_version_changes_with_the_file(app, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    (tmp_path / "x.css").write_text("a { color: red }")
    with app.test_request_context():
        first = url_for("static", filename="x.css")
        assert url_for("static", filename="x.css") == first
        (tmp_path / "x.css").write_text("a { color: blue; }")
        second = url_for("static", filename="x.css")
        assert first != second and second.startswith("/static/x.css?v=")
        assert url_for("static", filename="missing.css") == "/static/missing.css"  # no file, no version


def test_a_file_asked_for_by_its_version_is_kept_a_year_and_otherwise_checked_each_time(client):
    current = client.get(f"/static/app.css?v={_version('app.css')}")
    assert current.status_code == 200 and current.data == (STATIC / "app.css").read_bytes()
    assert current.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for url in ("/static/app.css", "/static/app.css?v=0123456789ab"):  # no version; a page from before an update
        response = client.get(url)
        assert response.status_code == 200 and "max-age=31536000" not in response.headers["Cache-Control"]
        assert response.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/nothing.css?v=0123456789ab").status_code == 404


def test_pages_json_and_static_text_go_out_compressed_to_a_browser_that_takes_it(client, login):
    village = factories.gen_village()
    factories.gen_rule(village.village, "庭院整洁", 5)
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    book = f"/villages/{village.village.id}/rules"
    plain = client.get(book)
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    for accepted, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        packed = client.get(book, headers={"Accept-Encoding": accepted})
        assert packed.headers["Content-Encoding"] == accepted
        assert decode(packed.data) == plain.data and len(packed.data) < len(plain.data)
        # The headers a page carries are still there.
        assert packed.headers["Content-Security-Policy"] == plain.headers["Content-Security-Policy"]
    scanner = f"/static/card-scanner.js?v={_version('card-scanner.js')}"
    script = client.get(scanner, headers={"Accept-Encoding": BROWSER})
    assert script.headers["Content-Encoding"] in ("zstd", "br")
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    spec = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "br"})
    assert spec.headers["Content-Encoding"] == "br" and brotli.decompress(spec.data).startswith(b"{")
    tiny = client.get("/api/v1/nothing-here", headers={"Accept-Encoding": "br"})  # under 1 KB: not worth it
    assert tiny.status_code == 404 and len(tiny.data) < 1024 and "Content-Encoding" not in tiny.headers


def test_a_spreadsheet_download_and_a_byte_range_go_out_as_they_are(client, login):
    village = factories.gen_village()
    factories.gen_rule(village.village, "庭院整洁", 5)
    login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))
    download = client.get(f"/villages/{village.village.id}/rules.xlsx", headers={"Accept-Encoding": BROWSER})
    assert download.status_code == 200 and "Content-Encoding" not in download.headers
    assert openpyxl.load_workbook(io.BytesIO(download.data)).active.max_row >= 2
    part = client.get("/static/app.css", headers={"Accept-Encoding": BROWSER, "Range": "bytes=0-99"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert part.data == (STATIC / "app.css").read_bytes()[:100]


def test_the_card_readers_fetch_jsqr_only_when_the_browser_cannot_read_qr_codes(client, login):
    village = factories.gen_village()
    shop = factories.gen_shop(village.village)
    login(factories.gen_user(Role.SHOP_CLERK, village.village))
    page = client.get(f"/shops/{shop.id}/counter").get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", page)
    assert not any("jsQR" in re.search(r'src="([^"]*)"', tag).group(1) for tag in scripts)
    scanner = next(tag for tag in scripts if "card-scanner.js" in tag)
    fallback = re.search(r'data-jsqr="([^"]+)"', scanner).group(1).replace("&amp;", "&")
    assert fallback == f"/static/vendor/jsqr-1.4.0/jsQR.min.js?v={_version('vendor/jsqr-1.4.0/jsQR.min.js')}"
    jsqr = client.get(fallback)
    assert jsqr.status_code == 200 and jsqr.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert len(jsqr.data) < 140_000  # minified: 251 KB before

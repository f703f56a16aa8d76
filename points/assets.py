"""Static files and the bytes on the wire: URLs versioned by content, kept a year by browsers; answers compressed."""
import hashlib
import os
import stat

from flask import Flask, Response, current_app, request
from flask_compress import Compress
from werkzeug.security import safe_join

# A versioned URL names one content for good: browsers and proxies keep it and never ask again.
VERSIONED_CACHE_CONTROL = "public, max-age=31536000, immutable"

# Text only. Images (JPEG, PNG), spreadsheets (xlsx is a zip) and archives are compressed already. Compressed HTML
# holds the CSRF token (BREACH): the session cookie is SameSite=Lax, so no other site can make the many signed-in
# requests that attack needs.
COMPRESSED_TYPES = [
    "text/html", "text/css", "text/plain", "text/javascript", "application/javascript", "application/json",
    "image/svg+xml",
]

# Under about a packet, compressing saves no round trip and costs the headers' bytes.
COMPRESS_MIN_BYTES = 1024

_versions: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, version)


def init_app(app: Flask) -> None:
    """Compress text answers (Flask-Compress: zstd, br, gzip or deflate, whichever the browser takes) and version
    every url_for('static', …). To be called before anything else registers an after_request hook: hooks run last
    registered first, so compressing then runs after all of them, on the final answer."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_MIN_SIZE", COMPRESS_MIN_BYTES)
    app.config["COMPRESS_REGISTER"] = False  # registered below, to leave partial answers (206) alone
    compress = Compress(app)

    @app.after_request
    def compress_answer(response: Response) -> Response:
        if response.status_code == 206:  # a byte range of the file as stored, not of its compressed form
            return response
        return compress.after_request(response)

    app.url_defaults(_version_static_url)
    app.after_request(_cache_versioned_static)


def static_version(filename: str) -> str | None:
    """A short hash of the static file's content, computed once and again only when the file changes; None for no
    such file."""
    path = safe_join(current_app.static_folder, filename)
    try:
        found = os.stat(path) if path else None
    except OSError:
        found = None
    if found is None or not stat.S_ISREG(found.st_mode):
        return None
    known = _versions.get(path)
    if known and known[:2] == (found.st_mtime_ns, found.st_size):
        return known[2]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    version = digest.hexdigest()[:12]
    _versions[path] = (found.st_mtime_ns, found.st_size, version)
    return version


def _version_static_url(endpoint: str, values: dict) -> None:
    """url_for('static', filename=…) gets ?v=<version>, which changes whenever the file does."""
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = static_version(values["filename"])
        if version:
            values["v"] = version


def _cache_versioned_static(response: Response) -> Response:
    """A static file asked for by its current version is kept a year; without a version, or by an old one (a page
    from before an update), it keeps Flask's answer: the browser asks again each time, and gets 304 if unchanged."""
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    version = request.args.get("v")
    if version and version == static_version((request.view_args or {}).get("filename", "")):
        response.headers["Cache-Control"] = VERSIONED_CACHE_CONTROL
        response.expires = None
    return response

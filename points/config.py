"""Configuration read from the environment, with the defaults documented in the README."""
import os
from datetime import timedelta


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(raw: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL: DATABASE_URL if set (postgresql:// is served by psycopg 3), else SQLite in instance/."""
    if not raw:
        return "sqlite:///" + os.path.join(instance_path, "points.db")
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


class Config:
    """Every setting the app reads; each maps to an environment variable of the same name."""

    # Unset: a random key kept in instance/secret_key (one server). Several servers must share one key.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    DATABASE_URL = os.environ.get("DATABASE_URL")
    # hide_parameters: a failed statement is logged without its values, which may be phones or ID numbers.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    # How many reverse proxies in front set X-Forwarded-For / -Proto (0: none, the app faces clients).
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))

    # How many days an activation slip (激活单) of a villager account is valid from its printing.
    SLIP_DAYS = int(os.environ.get("SLIP_DAYS", "14"))

    BABEL_DEFAULT_LOCALE = os.environ.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_NAME = "remember_token"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=int(os.environ.get("REMEMBER_DAYS", "60")))

    # Requests larger than this are refused before they are read (photos, spreadsheets).
    # Three photos of PHOTO_MAX_MB and the form around them must fit.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "30")) * 1024 * 1024
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_MB", "10")) * 1024 * 1024
    # Claim photos, stored cleaned and shrunk; unset: instance/uploads.
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER")
    PHOTO_MAX_BYTES = int(os.environ.get("PHOTO_MAX_MB", "8")) * 1024 * 1024

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    # No X-RateLimit-* headers on every answer: they cost two more round trips to the limits' storage a request (a
    # check-in's, on its hot path); a refusal (429) says when to try again in Retry-After (errors.py).
    RATELIMIT_HEADERS_ENABLED = False
    # Per client address and username (and per user for a password change), then per address alone.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "100 per minute")
    # A villager's own check-ins (scanned codes, pages and API together) per account: a few a day are normal.
    CHECKIN_RATE_LIMIT = os.environ.get("CHECKIN_RATE_LIMIT", "20 per minute")
    # Check-ins by household card or name at a desk, per staff account: a queue of elders moves fast.
    CHECKIN_DESK_RATE_LIMIT = os.environ.get("CHECKIN_DESK_RATE_LIMIT", "600 per minute")

    API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "30"))
    PER_PAGE = 20

    # flask-smorest: the OpenAPI document at /api/v1/openapi.json
    API_TITLE = "村务积分 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    WTF_CSRF_TIME_LIMIT = None

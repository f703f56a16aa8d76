"""Bearer-token authentication for /api/v1: the caller is in flask.g.api_user, never a session cookie."""
from flask import g, request

from ..auth.models import User
from ..auth.services import user_for_token
from ..errors import DomainError


def authenticate_request() -> None:
    """A before_request hook of every API blueprint but tokens.
    Raises DomainError("login_required" | "invalid_token")."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError("login_required", status=401)
    g.api_user = user_for_token(token.strip())


def api_user() -> User:
    return g.api_user

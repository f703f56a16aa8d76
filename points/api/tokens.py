"""POST /api/v1/tokens: a bearer token for a username and password."""
from datetime import UTC

from flask import current_app
from marshmallow import Schema, fields, validate

from ..auth import services
from ..extensions import limiter
from .blueprint import Blueprint
from .schemas import ErrorSchema, Text

bp = Blueprint("api_tokens", __name__, description="令牌：用户名和密码换取 Bearer 令牌")


class Credentials(Schema):
    username = Text(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, load_only=True)


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.DateTime(required=True, metadata={"description": "UTC, with its offset"})


@bp.post("/tokens")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@bp.arguments(Credentials)
@bp.response(201, TokenSchema)
@bp.alt_response(401, schema=ErrorSchema, description="用户名或密码不正确")
@bp.alt_response(403, schema=ErrorSchema, description="该账号已停用")
@bp.doc(security=[])
def create_token(credentials):
    user = services.authenticate(credentials["username"], credentials["password"])
    token, row = services.issue_token(user, current_app.config["API_TOKEN_DAYS"])
    # Stored naive; sent with its offset, or a client in Asia/Shanghai would read it as local time.
    return {"token": token, "expires_at": row.expires_at.replace(tzinfo=UTC)}

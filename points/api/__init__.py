"""/api/v1: JSON resources over the same services and policy as the pages, with an OpenAPI 3 document."""
from flask import Flask
from flask_smorest import Api

from ..extensions import csrf
from .schemas import ErrorSchema


class PointsApi(Api):
    """flask-smorest, documenting our {"error": {"code", "message"}} body for its default error responses."""

    ERROR_SCHEMA = ErrorSchema


api = PointsApi()


def init_api(app: Flask) -> None:
    from . import (
        bars,
        claims,
        events,
        expiry,
        grids,
        hygiene,
        leaderboards,
        ledger,
        messages,
        people,
        publicity,
        reports,
        rules,
        shop,
        statements,
        tokens,
        visits,
        wishes,
    )

    api.init_app(
        app,
        spec_kwargs={
            "info": {"description": "村务积分 (points): the 积分制 of a village. "
                                    "Authenticate with POST /api/v1/tokens."},
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for module in (tokens, grids, people, rules, ledger, claims, hygiene, events, shop, leaderboards, messages, reports,
                   wishes, visits, statements, publicity, expiry, bars):
        csrf.exempt(module.bp)
        api.register_blueprint(module.bp, url_prefix="/api/v1")

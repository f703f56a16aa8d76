"""One unit of work a request. What a request that writes (POST, PUT, PATCH, DELETE) changed is committed once,
after its view or API handler has answered with success (a status below 400), and rolled back otherwise; so neither
door commits or rolls back. A refusal raised out of a view is rolled back on its way to the error page or JSON
(errors.py); a page that catches one to show it beside its form calls pages.refused(), which rolls back what the
service had flushed. A read (GET, HEAD) that writes commits itself: reads do not pay for a COMMIT."""
from flask import Flask, Response, request, session

from .extensions import db

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    app.after_request(finish)


def finish(response: Response) -> Response:
    """Commit a write that succeeded, roll back one that did not. A failed commit (a constraint the database
    enforces) raises here, and the request answers 500 as if the view had raised it, without the view's "已保存"."""
    if request.method in WRITES:
        if response.status_code < 400:
            try:
                db.session.commit()
            except Exception:
                db.session.rollback()
                session.pop("_flashes", None)
                raise
        else:
            db.session.rollback()
    return response

"""The confirmation step before a page does what cannot be taken back or is public.

A page's form posts as it always has; the view works out what would happen (often by doing it and rolling it
back, so the numbers and any refusal are the service's own) and, unless the post says it is confirmed, answers
with a page naming that, whose button posts the same fields again with ``confirmed=1``. Cancelling is a link back:
nothing was written. No script is needed, so it works under the CSP and on any phone. The API keeps its
one-request form and never comes here.
"""
from flask import render_template, request

from ..extensions import db

FIELD = "confirmed"


def confirmed() -> bool:
    """Whether this post comes from the confirmation page's button."""
    return request.form.get(FIELD) == "1"


def ask(title: str, what: str, *, button: str, back: str, details: list[str] | tuple = (), warning: str = ""):
    """The confirmation page: ``what`` will happen (with its numbers), ``details`` line by line, an optional
    ``warning`` (what is unusual about doing it now); ``button`` does it, 取消 goes to ``back``. Whatever the view
    did to find the numbers is rolled back here: asking writes nothing."""
    db.session.rollback()
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", FIELD)]
    action = request.script_root + request.full_path.rstrip("?")
    return render_template("confirm.html", title=title, what=what, details=details, warning=warning,
                           button=button, back=back, fields=fields, action=action)

"""The base of every HTML form: Flask-WTF (CSRF) with text fields that drop NUL characters; the key a form that
writes is rendered with; where a form may send the browser next."""
import uuid
from urllib.parse import urlsplit

from flask import url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from ...errors import MESSAGES, DomainError


def _drop_nul(value):
    """PostgreSQL can neither store nor compare text holding NUL; nobody types one on purpose."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class Form(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, StringField):  # PasswordField too
                options["filters"] = [*unbound_field.kwargs.get("filters", ()), _drop_nul]
            return unbound_field.bind(form=form, **options)


def fresh_key(form) -> None:
    """A new key for the form's next submission (its hidden "key" field): what it posts then is a new request."""
    form.key.data = uuid.uuid4().hex


def refusal_message(refusal: DomainError, form) -> str:
    """What to tell the user of a refused form. One sent again with other values under the key it was rendered
    with (the Back button) is told so and gets a fresh key, so that the next try is a new request."""
    if refusal.code == "idempotency_key_reused":
        fresh_key(form)
        return str(MESSAGES["form_already_used"])
    return refusal.message


def safe_next(target: str | None) -> str:
    """Where to go after login or a language switch: a path on this site, else home.

    Control characters and backslashes are refused outright: browsers and Werkzeug drop or reinterpret them,
    which turns "/\t/evil.example" into "//evil.example", another site.
    """
    if target and not any(ord(c) < 32 or c in "\\\x7f" for c in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("web.home")

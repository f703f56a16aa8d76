"""The base of every HTML form: Flask-WTF (CSRF) with text fields that drop NUL characters."""
from flask_wtf import FlaskForm
from wtforms import StringField


def _drop_nul(value):
    """PostgreSQL can neither store nor compare text holding NUL; nobody types one on purpose."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class Form(FlaskForm):
    class Meta:
        def bind_field(self, form, unbound_field, options):
            if issubclass(unbound_field.field_class, StringField):  # PasswordField too
                options["filters"] = [*unbound_field.kwargs.get("filters", ()), _drop_nul]
            return unbound_field.bind(form=form, **options)

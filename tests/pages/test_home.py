"""The front door: where a redirect may lead, the secret key, the upload limit for everyone."""
import io
import os

import pytest

from points import _instance_secret_key, create_app
from points.auth.models import Role
from points.extensions import db

from .. import factories


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/households?q=1", "/households?q=1"),
        ("//evil.example/x", "/"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%09/evil.example", "/%09/evil.example"),
        ("/a\nb", "/"),
        ("", "/"),
    ],
)
def test_after_login_and_language_switch_only_local_paths(client, village, target, lands):
    factories.gen_user(Role.GRID_LEADER, village.grids[0], username="leader")
    db.session.commit()
    switched = client.get("/lang/en", query_string={"next": target})
    assert switched.status_code == 302 and switched.headers["Location"] == lands
    logged_in = client.post(
        "/login", query_string={"next": target}, data={"username": "leader", "password": factories.PASSWORD}
    )
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == lands


def test_without_secret_key_one_is_made_and_kept_in_instance(tmp_path):
    key = _instance_secret_key(str(tmp_path))
    assert len(key) == 64 and _instance_secret_key(str(tmp_path)) == key
    assert oct(os.stat(tmp_path / "secret_key").st_mode & 0o777) == "0o600"


def test_the_default_config_has_no_known_secret_key(database_uri):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri})
    assert app.config["SECRET_KEY"] and app.config["SECRET_KEY"] != "dev-only-change-me"


def test_an_oversized_upload_is_a_413_even_before_login(database_uri):
    """With CSRF on, the body is read (and found too large) before any view or login check runs."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "RATELIMIT_ENABLED": False})
    body = {"file": (io.BytesIO(bytes(app.config["MAX_CONTENT_LENGTH"] + 1)), "big.xlsx")}
    response = app.test_client().post("/import", data=body, content_type="multipart/form-data")
    assert response.status_code == 413 and "文件太大" in response.get_data(as_text=True)

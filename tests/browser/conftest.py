"""Browser harness: the demo village served by a real server in a thread, driven by Debian's chromium.

The app and database here are separate from tests/conftest.py's: that harness empties its database after
every test, while these tests share one demo village for the whole session, on SQLite, with CSRF on.
"""
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from points import create_app
from points.demo import load_demo
from points.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PHONE_WIDTH = 360
PHONE = dict(
    viewport={"width": PHONE_WIDTH, "height": 740},
    device_scale_factor=2,
    is_mobile=True,
    has_touch=True,
    locale="zh-CN",
    timezone_id="Asia/Shanghai",
)


@pytest.fixture(autouse=True)
def _context():
    """Replaces the root harness's per-test app context and emptying: these tests keep the demo village."""
    yield


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The demo village (瑶前村, demo accounts with password demo12345) served on 127.0.0.1 at a free port."""
    database = tmp_path_factory.mktemp("browser-db") / "points.db"
    app = create_app(
        {
            "SECRET_KEY": "browser-tests",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "WTF_CSRF_ENABLED": True,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("browser-uploads")),
        }
    )
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright; Playwright's own browser downloads are never used.

    Without /usr/bin/chromium the browser tests are skipped, except under CI (the CI variable set), where a
    skip would hide that they never ran, so they fail instead.
    """
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium fonts-wqy-microhei)"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must run the browser tests", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts(request) -> Path:
    """test-artifacts/browser/ at the repository root (gitignored): a screenshot of every page visited."""
    folder = Path(request.config.rootpath) / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


class Phone:
    """A phone-sized browser tab with helpers that check each page a person would see."""

    def __init__(self, page, artifacts: Path, test_name: str):
        self.page = page
        self.artifacts = artifacts
        self.test_name = test_name
        self.shots = 0
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        # A refused page (403) is logged as a failed load too; those are checked by the tests and by _on_response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")  # e.g. a style or script the CSP refused

    def _on_response(self, response) -> None:
        request = response.request
        if response.status >= 400 and request.resource_type != "document":
            self.problems.append(f"{response.status} for {request.url}")

    def open(self, path: str):
        """Go to path and check the page; returns the response of the page."""
        response = self.page.goto(path)
        where = urlsplit(path)
        self.check(re.sub(r"[^0-9A-Za-z]+", "-", f"{where.path}?{where.query}").strip("-") or "root")
        return response

    def check(self, name: str) -> None:
        """The page fits the phone (no horizontal scrolling) and is saved as a full-page screenshot."""
        self.shots += 1
        self.page.screenshot(path=self.artifacts / f"{self.test_name}-{self.shots:02d}-{name}.png", full_page=True)
        # Measured after the screenshot so that a failure still leaves the picture of the page behind.
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_WIDTH, f"{self.page.url} is {width} px wide: it scrolls sideways on a phone"

    def log_in(self, username: str, password: str = "demo12345") -> None:
        self.page.context.clear_cookies()  # whoever was signed in before is gone
        self.open("/login")
        self.page.get_by_label("用户名或手机号", exact=True).fill(username)
        self.page.get_by_label("密码", exact=True).fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="登录", exact=True).click()
        self.check(f"login-{username}-submitted")


@pytest.fixture
def phone(browser, live_server, artifacts, request):
    """A fresh phone (own cookies) on the live server: 360×740, touch, Chinese."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    context.set_default_timeout(15_000)
    device = Phone(context.new_page(), artifacts, re.sub(r"[^0-9A-Za-z_]+", "-", request.node.name).strip("-"))
    yield device
    context.close()
    assert not device.problems, f"the pages had problems: {device.problems}"

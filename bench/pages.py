"""Benchmark: what each role's daily pages weigh over the wire and how long they take to load on a ¥500 phone on 3G.

Serves the demo village (`flask --app points demo`, SQLite in a temporary folder) with gunicorn and the repository's
gunicorn.conf.py, then drives Debian's chromium through Playwright as a cheap phone: 360 × 780 px, the CPU 4 × slower,
3G (1.6 Mbit/s down, 750 kbit/s up, 150 ms latency), a cold cache (a new browser context for every page). Logged in as
each role of the demo, it opens the role's main pages and prints for each the bytes over the wire (every response's
encoded size, headers included, from the DevTools protocol's Network.loadingFinished, until the network is idle after
the load event) and the time from navigation start to the load event; then the time from the tap on 提交申报 with a
4,000 × 3,000 px photo to the next page's load; then issue 23's targets, each passed or failed. KB are 1,000 bytes.

    python bench/pages.py                       # every role, throttled (about 5 minutes)
    python bench/pages.py --only clerk          # one role
    python bench/pages.py --no-throttle -v      # the phone's size, no throttling; every response listed

Needs /usr/bin/chromium (apt-get install chromium fonts-wqy-microhei); never `playwright install`.
"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]
PHONE = dict(viewport={"width": 360, "height": 780}, device_scale_factor=2, is_mobile=True, has_touch=True,
             locale="zh-CN", timezone_id="Asia/Shanghai")
CPU_SLOWDOWN = 4
NETWORK_3G = {"offline": False, "latency": 150, "downloadThroughput": 200_000, "uploadThroughput": 93_750}
THROTTLED = "CPU ÷4, 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency"
KB = 1000
PAGE_TIMEOUT_MS = 90_000
UPLOAD_TIMEOUT_MS = 300_000
IDLE_MS = 5_000  # after the load event, how long to wait for the network to fall quiet (late scripts, images)


@dataclass(frozen=True)
class Target:
    """A target of issue 23: at most max_kb over the wire and max_s to load."""
    name: str
    max_kb: float | None
    max_s: float


VILLAGER_PAGE = Target("every villager page ≤ 60 KB and ≤ 1.5 s", 60, 1.5)
COUNTER_DESK = Target("the counter and the check-in desk ≤ 120 KB and ≤ 2 s", 120, 2.0)
CARD_PAGE = Target("a grid's card page (150 cards) ≤ 300 KB and ≤ 2 s", 300, 2.0)
PHOTO_UPLOAD = Target("a 4,000 × 3,000 photo on the claim form uploads in ≤ 5 s", None, 5.0)
TARGETS = (VILLAGER_PAGE, COUNTER_DESK, CARD_PAGE, PHOTO_UPLOAD)


@dataclass
class Load:
    """One page as the phone got it; error says why it failed (empty: it did not)."""
    status: int | None = None
    bytes: int = 0
    seconds: float | None = None  # navigation start to the load event (the upload: the tap to the next page's load)
    first_byte: float | None = None  # navigation start to the page's first byte: the server's time, and the network's
    url: str = ""
    error: str = ""
    resources: list[tuple[int, str, str]] = field(default_factory=list)  # (bytes, content-encoding, url)
    uploaded: int | None = None  # the largest request body sent (the upload)


@dataclass(frozen=True)
class Visit:
    role: str
    username: str
    page: str
    path: str
    target: Target | None = None
    note: str = ""


# ---------------------------------------------------------------------------------------------- the phone, measuring


class Wire:
    """What crosses the network for one page, from the DevTools protocol; with throttle, the cheap phone's CPU
    and 3G are emulated on it (set before the first request)."""

    def __init__(self, context, page, throttle: bool):
        self.urls: dict[str, str] = {}  # by request id, as are the two below
        self.encodings: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.bodies: list[int] = []  # the Content-Length of every request that sent one
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestWillBeSentExtraInfo", self._sent_headers)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")
        if throttle:
            cdp.send("Network.emulateNetworkConditions", NETWORK_3G)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})

    def _sent(self, event: dict) -> None:
        request_id = event["requestId"]
        redirect = event.get("redirectResponse")
        if redirect:  # the same id goes on to the next address: keep the redirect as its own line
            key = f"{request_id}>{len(self.urls)}"
            self.urls[key], self.sizes[key] = self.urls.get(request_id, ""), int(redirect.get("encodedDataLength", 0))
            self.encodings[key] = ""
        self.urls[request_id] = event["request"]["url"]

    def _sent_headers(self, event: dict) -> None:
        length = {k.lower(): v for k, v in event.get("headers", {}).items()}.get("content-length")
        if length and length.isdigit():
            self.bodies.append(int(length))

    def _received(self, event: dict) -> None:
        headers = {k.lower(): v for k, v in event["response"].get("headers", {}).items()}
        self.encodings[event["requestId"]] = headers.get("content-encoding", "")

    def _finished(self, event: dict) -> None:
        self.sizes[event["requestId"]] = int(event.get("encodedDataLength", 0))

    def resources(self) -> list[tuple[int, str, str]]:
        lines = ((size, self.encodings.get(key, ""), self.urls.get(key, "?")) for key, size in self.sizes.items()
                 if not self.urls.get(key, "").startswith(("data:", "blob:")))  # never on the wire
        return sorted(lines, reverse=True)


@contextmanager
def _phone(browser, base_url: str, storage_state: dict | None, throttle: bool):
    """A fresh phone (its own cold cache, signed in by storage_state): yields its page, its Wire and the Load to
    fill. An error of Playwright's (a timeout, a crash) or a TimeoutError becomes the Load's error; the bytes are
    summed at the end."""
    from playwright.sync_api import Error

    context = browser.new_context(base_url=base_url, storage_state=storage_state, **PHONE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    wire, load = Wire(context, page, throttle), Load()
    try:
        yield page, wire, load
    except (Error, TimeoutError) as error:
        load.error = str(error).splitlines()[0][:120]
    finally:
        load.resources = wire.resources()
        load.bytes = sum(size for size, _encoding, _url in load.resources)
        context.close()


def _settle(page) -> None:
    """Waits until the network is idle after the load event (what a page fetches late counts too)."""
    from playwright.sync_api import Error

    try:
        page.wait_for_load_state("networkidle", timeout=IDLE_MS)
    except Error:
        pass  # a page that keeps fetching: what it fetched so far is counted


def _arrived(load: Load, page, response, path: str) -> None:
    """The status and address the phone ended on, and whether that is a failure (an error status, the login)."""
    load.status, load.url = (response.status if response else None), page.url
    if load.status is None:
        load.error = "no response"
    elif load.status >= 400:
        load.error = f"HTTP {load.status}"
    elif "/login" in load.url and "/login" not in path:
        load.error = "sent to the login page"


def measure(browser, base_url: str, path: str, storage_state: dict | None = None, throttle: bool = True) -> Load:
    """Opens path on a fresh phone (cold cache; signed in by storage_state) and measures it: bytes until the
    network is idle, seconds to the load event and to the first byte. A page that fails is not raised: the Load
    says why."""
    with _phone(browser, base_url, storage_state, throttle) as (page, _wire, load):
        response = page.goto(path, wait_until="load")
        _settle(page)
        _arrived(load, page, response, path)
        load.first_byte, load.seconds = page.evaluate("""() => {
            const n = performance.getEntriesByType('navigation')[0];
            return n && n.loadEventEnd > 0 ? [n.responseStart / 1000, (n.loadEventEnd - n.startTime) / 1000]
                                           : [null, null]; }""")
    return load


def log_in(browser, base_url: str, username: str, password: str = "demo12345") -> dict:
    """Signs in on the login form (not throttled) and returns the cookies, for measure()'s fresh phones. Raises
    RuntimeError when the login is refused."""
    context = browser.new_context(base_url=base_url, **PHONE)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.press("input[name=password]", "Enter")
        if "/login" in page.url:
            raise RuntimeError(f"{username} could not log in")
        return context.storage_state()
    finally:
        context.close()


def camera_photo(path: Path, size: tuple[int, int] = (4000, 3000), seed: int = 23) -> int:
    """A JPEG as a phone's camera makes it: smooth colour with sensor noise, about 4 MB at 4,000 × 3,000.
    Returns its size in bytes."""
    from PIL import Image, ImageChops

    rng = random.Random(seed)
    small = Image.new("RGB", (40, 30))
    small.putdata([tuple(rng.randrange(40, 220) for _ in range(3)) for _ in range(40 * 30)])
    noise = Image.merge("RGB", [Image.effect_noise(size, 10) for _ in range(3)])
    photo = ImageChops.add(small.resize(size, Image.BICUBIC), noise, scale=1.0, offset=-128)
    photo.save(path, "JPEG", quality=90)
    return path.stat().st_size


def _next_page(page, deadline: float) -> None:
    """Waits until the page before the tap is gone and the one after it has loaded, with the pictures on its first
    screen: a navigation (the form posted as it is) or a document written in place (a script that sent the form
    itself). Raises TimeoutError."""
    from playwright.sync_api import Error

    while time.monotonic() < deadline:
        try:
            if page.evaluate("""() => !document.documentElement.hasAttribute('data-bench-before')
                    && document.readyState === 'complete'
                    && [...document.images].every(i => i.complete || i.getBoundingClientRect().top > innerHeight)"""):
                return
        except Error:
            pass  # the page is between documents
        time.sleep(0.05)
    raise TimeoutError("no page after the tap")


def upload_photo(browser, base_url: str, storage_state: dict, rule_id: int, photo: Path, throttle: bool) -> Load:
    """积分申报 with one photo: the form opened, the rule and photo chosen, then the time from the tap on 提交申报 to
    the load of the page after it (whatever the form's script does in between: shrinking, a progress bar)."""
    with _phone(browser, base_url, storage_state, throttle) as (page, wire, load):
        page.goto("/claims/new", wait_until="load")
        form = page.locator("form[enctype='multipart/form-data']").first
        form.locator("select[name=rule_id]").select_option(str(rule_id))
        form.locator("input[type=file]").set_input_files(photo)
        page.evaluate("() => document.documentElement.setAttribute('data-bench-before', '')")
        wire.bodies.clear()
        started = time.monotonic()
        form.locator("button[type=submit]").last.click(no_wait_after=True)
        _next_page(page, started + UPLOAD_TIMEOUT_MS / 1000)
        load.seconds = time.monotonic() - started
        load.uploaded, load.url = max(wire.bodies, default=None), page.url
        if not re.search(r"/claims/\d+$", page.url):
            refusal = page.locator(".field-error").first
            load.error = f"refused: {refusal.inner_text()[:80] if refusal.count() else page.url}"
    return load


# ----------------------------------------------------------------------------------- the demo village and its pages


def serve_demo(folder: Path) -> tuple[subprocess.Popen, str, str]:
    """The README's first command into folder (SQLite, uploads), then gunicorn with the repository's settings on a
    free port. Returns the server, its address and the database's URL."""
    database = f"sqlite:///{folder / 'points.db'}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, DATABASE_URL=database, SECRET_KEY="bench-pages", UPLOAD_FOLDER=str(folder / "up"),
                       RATELIMIT_ENABLED="0", BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", WEB_THREADS="1",
                       ACCESS_LOG=str(folder / "access.log"))
    subprocess.run([sys.executable, "-m", "flask", "--app", "points", "demo"], cwd=ROOT, env=environment, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = open(folder / "gunicorn.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "points:create_app()"], cwd=ROOT, env=environment,
                              stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, f"http://127.0.0.1:{port}", database
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"gunicorn did not start: {(folder / 'gunicorn.log').read_text()[-2000:]}")


def demo_facts(database: str) -> dict[str, int]:
    """The ids the pages need, read from the demo's database (as it is now: the upload adds a claim)."""
    from sqlalchemy import select

    from points import create_app
    from points.auth.models import User
    from points.claims.models import Claim, ClaimPhoto
    from points.demo import VILLAGE_CODE
    from points.events.models import Event
    from points.extensions import db
    from points.grids.models import GridNode
    from points.hygiene import inspection, queries
    from points.hygiene.models import Assignment
    from points.people.cards import current_cards
    from points.people.models import Household
    from points.periods import week_of
    from points.rules.models import Rule
    from points.shop.models import Shop
    from points.timeutil import local_today, utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "bench-pages", "RATELIMIT_ENABLED": False})
    with app.app_context():
        one = db.session.scalar
        village = one(select(GridNode).where(GridNode.code == VILLAGE_CODE))
        grid = one(select(GridNode.id).where(GridNode.parent_id == village.id).order_by(GridNode.id))
        round_ = inspection.round_for(village, week_of(local_today()), create=False)
        inspected = round_ and one(select(Assignment.grid_id).where(Assignment.round_id == round_.id,
                                                                    Assignment.inspector_grid_id == grid))
        rows = queries.sheet_rows(round_.id, inspected) if inspected else []
        villager2 = one(select(User).where(User.username == "villager2"))
        facts = dict(
            village=village.id, grid=grid, cards=len(current_cards(grid)),
            round=round_.id if round_ else 0, inspected=inspected or 0,
            sheet=next((r.household.id for r in rows if r.score is None), rows[0].household.id if rows else 0),
            household=one(select(Household.id).where(Household.grid_id == grid).order_by(Household.number)),
            customer=villager2.resident.household_id,
            shop=one(select(Shop.id).where(Shop.village_id == village.id)),
            event=one(select(Event.id).where(Event.village_id == village.id, Event.closed_at.is_(None),
                                             Event.ends_at > utcnow()).order_by(Event.starts_at)) or 0,
            claim=one(select(Claim.id).join(ClaimPhoto).order_by(Claim.id.desc()))
            or one(select(Claim.id).order_by(Claim.id.desc())) or 0,
            yard=one(select(Rule.id).where(Rule.village_id == village.id, Rule.code == "HYG-YARD")),
        )
        db.session.remove()
        db.engine.dispose()
    return facts


# Each role's account and main pages: (page, path, target, note), the paths and notes filled from demo_facts().
V, C = VILLAGER_PAGE, COUNTER_DESK
ROLES: dict[str, tuple[str, list[tuple]]] = {
    "villager": ("villager1", [("首页 → 我的积分", "/", V), ("排行", "/boards/{village}", V), ("活动", "/events", V),
                               ("积分超市", "/shops/{shop}", V), ("申报", "/claims/new", V),
                               ("积分细则", "/villages/{village}/rules", V)]),
    "leader": ("leader1", [("首页", "/"), ("评比 (week)", "/villages/{village}/hygiene"),
                           ("评分表 list", "/hygiene/rounds/{round}/grids/{inspected}", None,
                            "the grid leader1 inspects this week"),
                           ("评分表 one", "/hygiene/rounds/{round}/households/{sheet}"), ("批量记分", "/award"),
                           ("户 page", "/households/{household}"),
                           ("户卡 of 第一网格", "/grids/{grid}/cards", CARD_PAGE, "{cards} cards")]),
    "worker": ("worker1", [("首页", "/"), ("审核 queue", "/claims"), ("申报 one", "/claims/{claim}"),
                           ("户 page", "/households/{household}"), ("加分/扣分", "/households/{household}/award")]),
    "clerk": ("clerk", [("首页", "/"), ("兑换台", "/shops/{shop}/counter", C),
                        ("兑换台 + household", "/shops/{shop}/counter?household={customer}", C)]),
    "admin": ("cunwei", [("首页 (村概况)", "/"), ("签到台", "/events/{event}/checkin-desk", C),
                         ("数据看板", "/dashboards")]),
}


def visits_of(role: str, facts: dict) -> list[Visit]:
    username, pages = ROLES[role]
    made = []
    for page, path, *more in pages:
        target, note = (more[0] if more else None), (more[1] if len(more) > 1 else "")
        made.append(Visit(role, username, page, path.format(**facts), target, note.format(**facts)))
    return made


# ------------------------------------------------------------------------------------------------------ the report


def _cell(text: str, width: int, right: bool = False) -> str:
    """text padded to width columns, a Chinese character taking two."""
    pad = " " * max(0, width - sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text))
    return pad + text if right else text + pad


COLUMNS = (("role", 9, False), ("page", 20, False), ("KB", 8, True), ("s", 6, True), ("TTFB s", 6, True),
           ("target", 6, False))


def verdict(target: Target | None, load: Load) -> str:
    """PASS or FAIL against the page's target ("" without one)."""
    if target is None:
        return ""
    if load.error or load.seconds is None:
        return "FAIL"
    heavy = target.max_kb is not None and load.bytes > target.max_kb * KB
    return "FAIL" if heavy or load.seconds > target.max_s else "PASS"


def print_row(visit: Visit, load: Load, verbose: bool = False) -> None:
    seconds, first = (f"{value:.2f}" if value is not None else "—" for value in (load.seconds, load.first_byte))
    what = "  ".join(part for part in (visit.path, visit.note, load.error and f"ERROR: {load.error}") if part)
    cells = (visit.role, visit.page, f"{load.bytes / KB:.1f}", seconds, first, verdict(visit.target, load))
    print("  ".join(_cell(text, width, right) for text, (_name, width, right) in zip(cells, COLUMNS)) + "  " + what,
          flush=True)
    if verbose:
        for size, encoding, url in load.resources:
            print(f"{'':>21}{size / KB:>9.1f}  {encoding or '-':<6} {url}")


def print_targets(results: list[tuple[Visit, Load]], throttle: bool) -> None:
    """Each target of issue 23 with PASS/FAIL and the pages that missed it."""
    print("\nTargets of issue 23" + ("" if throttle else " (NOT THROTTLED: these verdicts mean nothing)") + ":")
    for target in TARGETS:
        mine = [(visit, load) for visit, load in results if visit.target is target]
        if not mine:
            print(f"  —     {target.name}: not measured")
            continue
        missed = [f"{v.role} {v.page} ({load.bytes / KB:.0f} KB, "
                  + (f"{load.seconds:.2f} s" if load.seconds is not None else load.error) + ")"
                  for v, load in mine if verdict(target, load) != "PASS"]
        print(f"  {'FAIL' if missed else 'PASS'}  {target.name}" + (": " + "; ".join(missed) if missed else ""))


# ------------------------------------------------------------------------------------------------------ the run


def _median(loads: list[Load]) -> Load:
    """Of several runs of a page, the one of the median time; a failed run stands for them all."""
    failed = [load for load in loads if load.error or load.seconds is None]
    return failed[0] if failed else sorted(loads, key=lambda load: load.seconds)[len(loads) // 2]


def _role_visits(browser, base_url: str, database: str, role: str, args, folder: Path) -> list[tuple[Visit, Load]]:
    """One role: its pages, each on a fresh phone; the villager's run ends with the photo upload."""
    from playwright.sync_api import Error

    facts = demo_facts(database)
    visits = visits_of(role, facts)
    try:
        state = log_in(browser, base_url, visits[0].username)
    except (RuntimeError, Error) as error:
        failed = [(visit, Load(error=f"login: {str(error).splitlines()[0][:100]}")) for visit in visits]
        for visit, load in failed:
            print_row(visit, load)
        return failed
    results, throttle = [], not args.no_throttle
    for visit in visits:
        load = _median([measure(browser, base_url, visit.path, state, throttle) for _ in range(args.runs)])
        print_row(visit, load, args.verbose)
        results.append((visit, load))
    if role == "villager":
        photo = folder / "camera.jpg"
        size = camera_photo(photo)
        load = _median([upload_photo(browser, base_url, state, facts["yard"], photo, throttle)
                        for _ in range(args.runs)])
        sent = f"sent {load.uploaded / 1e6:.2f} MB" if load.uploaded else "sent ? MB"
        visit = Visit("villager", "villager1", "申报 + photo", "/claims/new", PHOTO_UPLOAD,
                      f"4000×3000 JPEG of {size / 1e6:.1f} MB, {sent}; s = tap to next page's load")
        print_row(visit, load, args.verbose)
        results.append((visit, load))
    return results


def run(base_url: str, database: str, args, folder: Path) -> list[tuple[Visit, Load]]:
    from playwright.sync_api import sync_playwright

    roles = [args.only] if args.only else list(ROLES)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print("  ".join(_cell(name, width, right) for name, width, right in COLUMNS) + "  what")
            for role in roles:
                results += _role_visits(browser, base_url, database, role, args, folder)
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(ROLES), help="one role's pages")
    parser.add_argument("--no-throttle", action="store_true", help="the phone's size, but full CPU and no 3G")
    parser.add_argument("--runs", type=int, default=1, help="load each page N times, report the median time")
    parser.add_argument("-v", "--verbose", action="store_true", help="every response of each page, largest first")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} not found: apt-get install chromium fonts-wqy-microhei (never `playwright install`)")
    # The machine may be shared: a load above the number of cores stretches every time below.
    phone = f"throttled ({THROTTLED})" if not args.no_throttle else "NOT throttled"
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {phone}; 360 × 780 px, cold cache; "
          f"KB = 1,000 bytes; median of {args.runs} run(s)")
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        print("loading the demo village and starting gunicorn …", flush=True)
        server, base_url, database = serve_demo(Path(folder))
        try:
            results = run(base_url, database, args, Path(folder))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print_targets(results, throttle=not args.no_throttle)
    return 1 if any(load.error for _visit, load in results) else 0


if __name__ == "__main__":
    sys.exit(main())

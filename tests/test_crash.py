"""kill -9 in the middle of a load: gunicorn (2 workers) serving check-ins and redemptions on the test database is
killed, master and workers at once, while clients are sending; after a restart, every request that was answered
201 is in the database, the requests that got no answer are retried with their Idempotency-Key and happen once,
and the ledger and the stock add up."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from points.auth.models import Role
from points.auth.services import issue_token
from points.events.models import Attendance, Event
from points.events.services import EventTerms, create_event
from points.extensions import db
from points.ledger.models import HouseholdBalance, LedgerEntry
from points.ledger.queries import balance_mismatches, total_mismatches
from points.rules.models import RuleCategory
from points.shop.models import Product, Redemption
from points.shop.queries import stock_mismatches
from points.timeutil import utc_to_local, utcnow

from . import factories

ROOT = Path(__file__).resolve().parent.parent
HOUSEHOLDS = 40
CLIENTS = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with the repository's gunicorn.conf.py, in a process group of its own so that one signal reaches the
    master and every worker."""

    def __init__(self, database_uri: str, log: Path):
        self.port = _free_port()
        self.environment = dict(os.environ, DATABASE_URL=database_uri, SECRET_KEY="test", RATELIMIT_ENABLED="false",
                                BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY="2", WEB_THREADS="2",
                                ACCESS_LOG=str(log.with_suffix(".access")))
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "points:create_app()"], cwd=ROOT,
                                            env=self.environment, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


CUT = (0, {})  # the connection was made and broke before an answer came: the server died with the request in it


def _post(port: int, path: str, token: str, key: str, body: dict) -> tuple[int, dict] | None:
    """The answer; CUT when the server died with the request in it; None when no server took the connection."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except urllib.error.URLError as error:
        return None if isinstance(error.reason, ConnectionRefusedError) else CUT
    except (OSError, ValueError):
        return CUT


@pytest.fixture
def counter(village):
    """A village with an event open now, run by its admin, and a shop with one product, run by its clerk; households
    with 100 points each. Committed, with the two accounts' API tokens."""
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    rule = factories.gen_rule(village.village, "参加志愿活动", 5, category=RuleCategory.VOLUNTEERING)
    starts = utc_to_local(utcnow()) - timedelta(minutes=10)
    event = create_event(admin, village.village, EventTerms("环境整治日", "村委会广场", starts,
                                                            starts + timedelta(hours=3), rule.id))
    product = factories.gen_product(factories.gen_shop(village.village), price=10, stock=10_000)
    households = []
    for number in range(HOUSEHOLDS):
        household = factories.gen_household(village.grids[number % len(village.grids)])
        factories.gen_points(household, 100)
        households.append(household)
    admin_token, _ = issue_token(admin, days=1)
    clerk_token, _ = issue_token(clerk, days=1)
    db.session.commit()
    return {"event": event.id, "shop": product.shop_id, "product": product.id, "admin": admin_token,
            "clerk": clerk_token, "residents": [h.head_id for h in households],
            "households": [h.id for h in households]}


def test_kill_9_mid_load_loses_no_answered_request_and_keeps_the_invariants(counter, database_uri, tmp_path):
    # Every request the clients will send: each resident checked in once, each household redeeming 3 times.
    requests = [("/api/v1/checkins", counter["admin"], {"event_id": counter["event"], "resident_id": resident})
                for resident in counter["residents"]]
    basket = [{"product_id": counter["product"], "quantity": 1}]
    requests += [("/api/v1/redemptions", counter["clerk"],
                  {"shop_id": counter["shop"], "household_id": household, "lines": basket})
                 for _ in range(3) for household in counter["households"]]
    requests = [(path, token, uuid.uuid4().hex, body) for path, token, body in requests]
    requests.sort(key=lambda request: request[2])  # check-ins and redemptions interleaved
    answers: dict[str, tuple[int, dict] | None] = {}
    pending = list(requests)
    lock = threading.Lock()
    server = Server(database_uri, tmp_path / "gunicorn.log")

    def client(port: int) -> None:
        while True:
            with lock:
                if not pending:
                    return
                path, token, key, body = pending.pop()
            answer = _post(port, path, token, key, body)
            with lock:
                answers[key] = answer

    def run_clients() -> list[threading.Thread]:
        threads = [threading.Thread(target=client, args=(server.port,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        return threads

    try:
        server.start()
        threads = run_clients()
        # The kill comes once a third of the requests were answered: the rest are in flight or not yet sent.
        deadline = time.monotonic() + 120
        while sum(1 for a in list(answers.values()) if a and a[0] == 201) < len(requests) // 3:
            assert time.monotonic() < deadline, f"too few answers: {list(answers.values())[:5]}"
            time.sleep(0.01)
        server.kill()
        for thread in threads:
            thread.join()
        lost = [request for request in requests if answers.get(request[2]) in (None, CUT)]
        cut = sum(1 for answer in answers.values() if answer is CUT)
        assert cut and len(lost) < len(requests), "the kill came with requests in the server's hands"

        # After the restart, what got no answer is sent again with its key; the rest of the load goes on.
        server.start()
        pending.extend(lost)
        for thread in run_clients():
            thread.join()
    finally:
        server.stop()

    assert all(answer not in (None, CUT) and answer[0] in (200, 201) for answer in answers.values()), \
        {k: a for k, a in answers.items() if a in (None, CUT) or a[0] not in (200, 201)}
    db.session.expire_all()
    # Every check-in answered is there, once per resident, and the event's count agrees.
    attendances = dict(db.session.execute(select(Attendance.id, Attendance.resident_id)
                                          .where(Attendance.event_id == counter["event"])).all())
    for key, (status, body) in answers.items():
        if "attendance" in body:
            assert attendances[body["attendance"]["id"]] == body["attendance"]["resident_id"]
    assert sorted(attendances.values()) == sorted(counter["residents"])
    assert db.session.get(Event, counter["event"]).attendees == len(counter["residents"])
    # Every redemption answered is there, with its debit; each request made exactly one.
    redemptions = {r.id: r for r in db.session.scalars(select(Redemption))}
    answered = [body for status, body in answers.values() if "lines" in body]
    assert sorted(body["id"] for body in answered) == sorted(redemptions)
    assert len(redemptions) == 3 * HOUSEHOLDS
    for body in answered:
        redemption = redemptions[body["id"]]
        assert redemption.entry_id == body["entry_id"] and redemption.total == 10
        assert db.session.get(LedgerEntry, body["entry_id"]).amount == -10
    # The invariants: balance == sum of entries, period totals == what the entries make, stock == its movements.
    assert not list(balance_mismatches()) and not list(total_mismatches()) and not list(stock_mismatches())
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    assert balances == {household: 70 for household in counter["households"]}
    assert db.session.get(Product, counter["product"]).stock == 10_000 - 3 * HOUSEHOLDS

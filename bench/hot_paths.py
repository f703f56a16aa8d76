"""Benchmark: what a check-in and a redemption cost in the app's own process, against their floors (floor.py).

No server and no load: the Flask test client sends each request in turn, so the figures are the app's own CPU
(`time.process_time`) and statements a request, with nothing else on the machine taking a share. For each of the
API's check-in (本人扫码) and redemption and of floor.py's routes doing the same: the median CPU a request, the
statements sent (counted by the engine), the Python function calls of a request (cProfile's count, which the machine's
load does not change) and, with --profile, where the app's route spends its time (pyinstrument's call tree; wall
time, so waiting for the database shows as psycopg's wait).

    python bench/hot_paths.py --database-url postgresql://postgres@127.0.0.1/points_hot             # the ci county
    python bench/hot_paths.py --database-url postgresql://postgres@127.0.0.1/points_load --reuse   # load.py --keep's
    python bench/hot_paths.py --database-url ... --profile

The database is dropped and made afresh unless --reuse, and dropped at the end unless --keep, as in load.py.
"""
import argparse
import cProfile
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

from pyinstrument import Profiler
from sqlalchemy import event, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the app

from bench.county import PRESETS, county_for_benchmark  # noqa: E402
from bench.floor import create_app  # noqa: E402
from bench.load import prepare  # noqa: E402
from bench.postgres import reset_postgres  # noqa: E402
from points.auth.models import User  # noqa: E402
from points.config import database_url  # noqa: E402
from points.extensions import db  # noqa: E402

CALLS = 30  # requests a route whose Python function calls are counted (cProfile), after those timed
ROUTES = (("checkin", "/api/v1/checkins"), ("checkin-floor", "/bench/checkin"),
          ("redemption", "/api/v1/redemptions"), ("redemption-floor", "/bench/redemption"))


class Statements:
    """Counts the statements the engine sends."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *args):
        self.count += 1


def _requests(data: dict, name: str, n: int):
    """n distinct bodies of the route: each check-in once, the baskets turning over the shops and customers."""
    if name.startswith("checkin"):
        checkins = data["checkins"][:n] if name == "checkin" else data["checkins"][-n:]
        for token, event_id, code in checkins:
            yield token, {"event_id": event_id, "token": code}
        return
    shops = [shop for shop in data["shops"] if shop[3]]
    for turn in range(n):
        token, shop_id, product_id, households = shops[turn % len(shops)]
        yield token, {"shop_id": shop_id, "household_id": households[(turn // len(shops)) % len(households)],
                      "lines": [{"product_id": product_id, "quantity": 1}]}


def measure(app, data: dict, name: str, path: str, n: int, profile: bool) -> None:
    """n requests of the route, timed one by one (CPU and wall), then CALLS more under cProfile for their Python
    function calls: a count that does not vary with the machine's load, unlike the times."""
    client, statements = app.test_client(), Statements(db.engine)
    cpu, wall, sent = [], [], []
    sampler = Profiler(interval=0.001) if profile and not name.endswith("floor") else None
    calls = cProfile.Profile()
    for turn, (token, body) in enumerate(_requests(data, name, n + CALLS)):
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
        counting = turn >= n
        watch = calls if counting else sampler
        before, started, clock = statements.count, time.process_time(), time.perf_counter()
        if watch is calls:
            calls.enable()
        elif watch is not None:
            sampler.start()
        response = client.post(path, json=body, headers=headers)
        if watch is calls:
            calls.disable()
        elif watch is not None:
            sampler.stop()
        if response.status_code != 201:
            sys.exit(f"{name}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        if not counting:
            cpu.append(time.process_time() - started)
            wall.append(time.perf_counter() - clock)
            sent.append(statements.count - before)
    warm = slice(n // 10, None)  # the first requests fill the caches
    print(f"{name}: {statistics.median(cpu[warm]) * 1000:.2f} ms CPU a request (median of {len(cpu[warm])}), "
          f"{statistics.median(wall[warm]) * 1000:.2f} ms in all, {statistics.median(sent):.0f} statements, "
          f"{pstats.Stats(calls).total_calls / CALLS:,.0f} Python function calls")
    if sampler is not None:
        print(sampler.output_text(color=False, time="percent_of_total"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (dropped and made afresh)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="ci")
    parser.add_argument("--requests", type=int, default=300, help="requests a route")
    parser.add_argument("--profile", action="store_true", help="pyinstrument's call tree of the app's routes")
    parser.add_argument("--reuse", action="store_true", help="the county is in the database already")
    parser.add_argument("--keep", action="store_true", help="leave the database in place at the end")
    args = parser.parse_args()
    url = database_url(args.database_url, "")
    if not args.reuse:
        reset_postgres(url, create=True)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
        with app.app_context():
            county = county_for_benchmark(PRESETS[args.preset], args.reuse)
            taken = set(db.session.scalars(select(User.username).where(User.username.like("bench-admin-%"))))
            villages = [v for v in county.villages if f"bench-admin-{v}" not in taken][:4]
            data = prepare(villages, 2)
        for name, path in ROUTES:
            with app.app_context():
                measure(app, data, name, path, args.requests, args.profile)
    finally:
        if not args.keep:
            reset_postgres(url, create=False)


if __name__ == "__main__":
    main()

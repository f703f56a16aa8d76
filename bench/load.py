"""Benchmark: check-ins and redemptions under 50 concurrent clients, each against the same app's trivial endpoint.

gunicorn with 2 workers (gunicorn.conf.py) serves the app on PostgreSQL; locust, headless, is the load (50 users
that send their next request as soon as the last is answered). Three runs one after the other, on the same server:

- `healthz`, the ceiling: GET /healthz (a SELECT 1 and a line of JSON);
- `checkin`: POST /api/v1/checkins, a villager scanning their village's event code (each villager once per event);
- `redemption`: POST /api/v1/redemptions, a clerk redeeming one product for a household of the village.

Prints, per run, throughput (requests/s), p50 and p99 latency, failures, and the share of the ceiling's throughput;
then the peak memory (VmHWM) of each worker, and checks that the database holds every check-in and redemption
answered 201, and that the ledger and the stock still add up.

    python bench/load.py --database-url postgresql://postgres@127.0.0.1/points_load            # the county
    python bench/load.py --database-url postgresql://postgres@127.0.0.1/points_load --preset ci --seconds 10

Needs locust (`pip install -r bench/requirements.txt`). The database named in the URL is dropped and made afresh,
and dropped at the end unless --keep (then --reuse times it again without building it).
"""
import argparse
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the app

from bench.county import PRESETS, county_for_benchmark  # noqa: E402
from bench.postgres import reset_postgres  # noqa: E402
from points import create_app  # noqa: E402
from points.auth.models import ApiToken, Role, User  # noqa: E402
from points.auth.services import assign_role, create_user, issue_token  # noqa: E402
from points.config import database_url  # noqa: E402
from points.events.checkins import static_token  # noqa: E402
from points.events.models import Attendance  # noqa: E402
from points.events.services import EventTerms, create_event  # noqa: E402
from points.extensions import db  # noqa: E402
from points.grids.models import GridNode  # noqa: E402
from points.ledger.models import HouseholdBalance  # noqa: E402
from points.ledger.queries import balance_mismatches  # noqa: E402
from points.people.models import Household, Resident  # noqa: E402
from points.rules.models import RuleCategory, RuleUnit  # noqa: E402
from points.rules.services import RuleTerms, create_rule  # noqa: E402
from points.shop.models import Redemption  # noqa: E402
from points.shop.queries import stock_mismatches  # noqa: E402
from points.shop.services import ProductTerms, create_product, create_shop  # noqa: E402
from points.timeutil import local_now, utcnow  # noqa: E402

PASSWORD = "bench-password-1"
PRICE = 10  # the product every basket holds one of
STOCK = 100_000  # the most a shelf may hold: far more than a run takes
RUNS = (("healthz", "TrivialUser"), ("checkin", "CheckinUser"), ("redemption", "RedemptionUser"))


def main(runs=None, description: str = __doc__) -> None:
    """The command line of this script, or of another (bench/floor.py) whose runs(url, args, folder) it passes."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (dropped and made afresh)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="county")
    parser.add_argument("--villages", type=int, default=40, help="villages whose people and shops take part")
    parser.add_argument("--events", type=int, default=2, help="open events per village (each villager checks in "
                                                                  "to each once)")
    parser.add_argument("--users", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=int, default=30, help="length of each run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gunicorn.conf.py's default)")
    parser.add_argument("--reuse", action="store_true", help="the county is in the database already (--keep)")
    parser.add_argument("--keep", action="store_true", help="leave the database in place at the end")
    args = parser.parse_args()
    url = database_url(args.database_url, "")
    if not args.reuse:
        reset_postgres(url, create=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            (runs or run)(url, args, Path(folder))
    finally:
        if not args.keep:
            reset_postgres(url, create=False)


def run(url: str, args: argparse.Namespace, folder: Path) -> None:
    spec = PRESETS[args.preset]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        county = county_for_benchmark(spec, args.reuse)
        started = time.perf_counter()
        # Villages a run before (--reuse) has not taken part with: each villager checks in to an event once.
        taken = set(db.session.scalars(select(User.username).where(User.username.like("bench-admin-%"))))
        villages = [v for v in county.villages if f"bench-admin-{v}" not in taken][:args.villages]
        data = prepare(villages, args.events)
        print(f"prepare {len(data['checkins'])} check-ins (villagers' tokens, {args.events} open events a village) "
              f"and {len(data['shops'])} shops: {time.perf_counter() - started:.1f} s")
        data_file = folder / "data.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        before = counts()

    port = _free_port()
    server = start_server(url, port, args.workers, args.threads, folder)
    try:
        results = {}
        for name, user_class in RUNS:
            print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            results[name] = load(name, user_class, port, args, data_file, folder)
            ceiling = results["healthz"]["rps"]
            row = results[name]
            print(f"{name}: {row['rps']:.1f} requests/s ({row['rps'] / ceiling:.0%} of healthz), "
                  f"p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms, {row['requests']} requests, "
                  f"{row['failures']} failed")
        for pid, peak in worker_peaks(server.pid).items():
            print(f"worker {pid}: peak memory (VmHWM) {peak / 1024:.0f} MiB")
    finally:
        stop_server(server)

    with app.app_context():
        after = counts()
        answered = {"checkin": results["checkin"]["requests"] - results["checkin"]["failures"],
                    "redemption": results["redemption"]["requests"] - results["redemption"]["failures"]}
        stored = {"checkin": after["attendances"] - before["attendances"],
                  "redemption": after["redemptions"] - before["redemptions"]}
        print(f"answered 201 / stored: check-ins {answered['checkin']} / {stored['checkin']}, redemptions "
              f"{answered['redemption']} / {stored['redemption']}")
        check_invariants()


# ------------------------------------------------------------------------------------------------------ the data


def prepare(villages: list[int], events: int) -> dict:
    """Per village: its admin, a 志愿服务 rule, events open now, a shop with one product in (nearly endless) stock and
    its clerk; an account and an API token for every resident. Commits. Returns what the load's clients need."""
    today = local_now().replace(minute=0, second=0, microsecond=0)
    checkins, shops = [], []
    for village_id in villages:
        village = db.session.get(GridNode, village_id)
        admin = create_user(f"bench-admin-{village_id}", PASSWORD)
        assign_role(None, admin, Role.VILLAGE_ADMIN, village)
        rule = create_rule(village, "ZY", RuleTerms("志愿服务", RuleCategory.VOLUNTEERING, 5, unit=RuleUnit.HOUR),
                           date(2026, 1, 1))
        codes = []
        for number in range(events):
            event = create_event(admin, village, EventTerms(
                f"环境整治{number + 1}", "村委会", today - timedelta(hours=1), today + timedelta(hours=6), rule.id))
            codes.append((event.id, static_token(event)))
        shop = create_shop(admin, village, "积分超市")
        product = create_product(admin, shop, ProductTerms("洗衣液", "瓶", PRICE), stock=STOCK)
        clerk = create_user(f"bench-clerk-{village_id}", PASSWORD)
        assign_role(None, clerk, Role.SHOP_CLERK, village)
        clerk_token, _ = issue_token(clerk, days=1)
        customers = db.session.scalars(
            select(HouseholdBalance.household_id).join(Household, Household.id == HouseholdBalance.household_id)
            .where(Household.village_id == village_id, HouseholdBalance.balance >= 10 * PRICE)
            .order_by(HouseholdBalance.household_id)).all()
        shops.append((clerk_token, shop.id, product.id, customers))
        for token in _villager_tokens(village_id):
            checkins += [(token, event_id, code) for event_id, code in codes]
    db.session.commit()
    # Interleave the villages and events, as the load would come: not one village's people all at once.
    checkins.sort(key=lambda item: hashlib.sha256(item[0].encode() + str(item[1]).encode()).digest())
    return {"checkins": checkins, "shops": shops}


def _villager_tokens(village_id: int) -> list[str]:
    """An account (the same password hash for all: hashing is slow on purpose) and a token for each resident."""
    residents = db.session.scalars(select(Resident.id).join(Household, Household.id == Resident.household_id)
                                   .where(Household.village_id == village_id).order_by(Resident.id)).all()
    password_hash = db.session.scalar(select(User.password_hash).where(User.username == f"bench-admin-{village_id}"))
    created = utcnow()
    users = db.session.execute(insert(User).returning(User.id, sort_by_parameter_order=True), [
        dict(username=f"v{resident}", display_name=f"v{resident}", password_hash=password_hash, resident_id=resident,
             active=True, session_version=1, created_at=created) for resident in residents]).scalars().all()
    tokens = [secrets.token_urlsafe(32) for _ in users]
    db.session.execute(insert(ApiToken), [
        dict(user_id=user, token_hash=hashlib.sha256(token.encode()).hexdigest(), session_version=1,
             expires_at=created + timedelta(days=1), created_at=created) for user, token in zip(users, tokens)])
    return tokens


def counts() -> dict:
    return {"attendances": db.session.scalar(select(func.count()).select_from(Attendance)),
            "redemptions": db.session.scalar(select(func.count()).select_from(Redemption))}


def check_invariants() -> None:
    """The ledger's balances and the shop's stock (the period totals' check, `flask verify`, takes minutes here)."""
    balances, stock = len(list(balance_mismatches())), len(list(stock_mismatches()))
    print(f"invariants: {balances} balances not the sum of their entries, {stock} products with a stock other than "
          f"the sum of their movements")


# ---------------------------------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, port: int, workers: int, threads: int, folder: Path,
                 app: str = "points:create_app()") -> subprocess.Popen:
    """gunicorn serving app with the repository's gunicorn.conf.py, on its own port; waits until it listens."""
    environment = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", BIND=f"127.0.0.1:{port}",
                       WEB_CONCURRENCY=str(workers), WEB_THREADS=str(threads), ACCESS_LOG=str(folder / "access.log"))
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", app], cwd=ROOT, env=environment,
                              stderr=open(folder / "gunicorn.log", "wb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    sys.exit(f"gunicorn did not start: {(folder / 'gunicorn.log').read_text()[-2000:]}")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


def worker_peaks(master: int) -> dict[int, int]:
    """The gunicorn workers' peak resident memory in KiB, from /proc (Linux)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    peaks = {}
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1])
    return peaks


def load(name: str, user_class: str, port: int, args: argparse.Namespace, data_file: Path, folder: Path) -> dict:
    """One locust run, headless; its figures from locust's CSV summary."""
    prefix = folder / name
    subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
                    "--users", str(args.users), "--spawn-rate", str(args.users), "--run-time", f"{args.seconds}s",
                    "--host", f"http://127.0.0.1:{port}", "--json-file", str(prefix), "--stop-timeout", "30",
                    "--loglevel", "WARNING", user_class],
                   env=dict(os.environ, BENCH_DATA=str(data_file)), check=False, stdout=subprocess.DEVNULL,
                   stderr=open(folder / f"{name}.log", "wb"))
    stats = next(s for s in json.loads(Path(f"{prefix}.json").read_text()) if s["name"] == name)
    times = sorted((float(ms), n) for ms, n in stats["response_times"].items())
    return {"requests": stats["num_requests"], "failures": stats["num_failures"],
            # Answers that did what was asked, a second: a failure may be cheaper than the work.
            "rps": (stats["num_requests"] - stats["num_failures"]) / (stats["last_request_timestamp"]
                                                                      - stats["start_time"]),
            "p50": _percentile(times, 0.50), "p99": _percentile(times, 0.99)}


def _percentile(times: list[tuple[float, int]], share: float) -> float:
    """From locust's histogram of (rounded milliseconds, count)."""
    wanted, seen = share * sum(n for _, n in times), 0
    for ms, n in times:
        seen += n
        if seen >= wanted:
            return ms
    return times[-1][0]


if __name__ == "__main__":
    main()

"""Benchmark: a town's monthly top 20 and the other leaderboards, on a county's ledger and on 10 × that ledger.

200,000 households in 10 towns, 5 million ledger entries, then 50 million (bench/county.py builds the county).

    python bench/leaderboards.py                                    # SQLite in a temporary folder
    python bench/leaderboards.py --database-url postgresql://postgres@127.0.0.1/points_bench_lb
    python bench/leaderboards.py --preset ci                        # a quick run on a tiny county
    python bench/leaderboards.py --households 20000 --villages 4 --entries 500000   # a tenth of the county

The PostgreSQL database named in the URL is dropped and created afresh, and dropped again at the end (unless
--keep, for a later --reuse). Prints one line per figure, each block preceded by the load average; the town's
monthly top 20 is the figure the 50 ms target applies to, and its 10×/1× ratio the one the 2× target applies to; the
first figure, one household read by its id, is the ceiling of the same stack they compare with.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

# Run from a checkout without installing the app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.county import PRESETS, county_for_benchmark, grow_county  # noqa: E402
from bench.postgres import reset_postgres  # noqa: E402
from points import create_app  # noqa: E402
from points.config import database_url  # noqa: E402
from points.extensions import db  # noqa: E402
from points.grids.models import GridNode  # noqa: E402
from points.leaderboards.queries import (  # noqa: E402
    PeriodKind,
    grid_board,
    household_board,
    household_place,
    period_of,
    resident_board,
)
from points.ledger.models import LedgerEntry, PeriodTotal  # noqa: E402
from points.people.models import Household  # noqa: E402

MONTH = period_of(PeriodKind.MONTH, date(2026, 11, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL; SQLite when absent")
    parser.add_argument("--sqlite-path", help="keep the SQLite database in this file (default: a temporary folder)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="county")
    parser.add_argument("--entries", type=int, help="ledger entries at 1× (default: the preset's)")
    parser.add_argument("--households", type=int, help="households in all (default: the preset's)")
    parser.add_argument("--villages", type=int, help="villages per town (default: the preset's)")
    parser.add_argument("--layers", type=int, default=10, help="the larger ledger, as a multiple of the first")
    parser.add_argument("--skip-10x", action="store_true", help="time the first ledger only")
    parser.add_argument("--reuse", action="store_true", help="time the county already in the database")
    parser.add_argument("--keep", action="store_true", help="leave the PostgreSQL database in place at the end")
    parser.add_argument("--runs", type=int, default=30, help="timed calls per figure")
    args = parser.parse_args()
    spec = PRESETS[args.preset]
    for name in ("entries", "households", "villages"):
        if getattr(args, name):
            spec = replace(spec, **{name: getattr(args, name)})

    if args.database_url:
        url = database_url(args.database_url, "")
        if not args.reuse:
            reset_postgres(url, create=True)
        try:
            run(url, spec, args)
        finally:
            if not args.keep:
                reset_postgres(url, create=False)
    elif args.sqlite_path:
        if not args.reuse and os.path.exists(args.sqlite_path):
            sys.exit(f"{args.sqlite_path} exists: remove it, or time it with --reuse")
        run("sqlite:///" + str(Path(args.sqlite_path).resolve()), spec, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite:///" + str(Path(folder) / "bench.db"), spec, args)


def run(url: str, spec, args: argparse.Namespace) -> None:
    """Build (or open) the county, time every figure, grow the ledger to args.layers × and time them again."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    dialect = make_url(url).get_backend_name()
    with app.app_context():
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        county = county_for_benchmark(spec, args.reuse)
        first = county.layers
        describe(dialect, url)
        explain(dialect, county)
        before = measure(dialect, county, args.runs)
        if args.skip_10x or county.layers >= args.layers:
            return
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        started = time.perf_counter()
        grow_county(county, args.layers, progress=lambda line: print(f"  {line}"))
        print(f"grow the ledger to {args.layers} × {spec.entries} entries {dialect}: "
              f"{time.perf_counter() - started:.1f} s")
        describe(dialect, url)
        explain(dialect, county)
        after = measure(dialect, county, args.runs)
        print(f"ratios {args.layers}×/{first}× {dialect} (median, p95):")
        for label in before:
            print(f"  {label}: {after[label][0] / before[label][0]:.2f}, {after[label][1] / before[label][1]:.2f}")
        db.session.remove()
        db.engine.dispose()


def describe(dialect: str, url: str) -> None:
    """The sizes the figures stand on."""
    count = lambda query: db.session.scalar(select(func.count()).select_from(query))  # noqa: E731
    entries, totals = count(LedgerEntry), count(PeriodTotal)
    board = count(select(PeriodTotal).where(PeriodTotal.period == MONTH.key, PeriodTotal.resident_id == 0,
                                            PeriodTotal.category == "").subquery())
    if dialect == "postgresql":
        size = db.session.scalar(text("SELECT pg_database_size(current_database())"))
    else:
        size = os.path.getsize(make_url(url).database)
    db.session.rollback()
    print(f"data {dialect}: {entries:,} ledger entries, {totals:,} period totals ({board:,} households' totals in "
          f"{MONTH.key}), database {size / 2**30:.1f} GiB")


def measure(dialect: str, county, runs: int) -> dict[str, tuple[float, float]]:
    """Each figure: warm up on every scope once, then runs timed calls over the scopes in turn; print its median and
    95th percentile in ms. A call is what a request spends apart from the template: SQL and Python, in an app
    context, its transaction ended after it."""
    rng = random.Random(7)
    towns = [db.session.get(GridNode, i) for i in county.towns]
    villages = [db.session.get(GridNode, i) for i in rng.sample(county.villages, min(30, len(county.villages)))]
    homes = [db.session.scalar(select(Household).where(Household.village_id == v.id).order_by(Household.id)
                               .offset(rng.randrange(10))) for v in villages]
    figures = {
        # The ceiling of the stack: the cheapest statement a page sends, one row by its key, through the same session.
        "ceiling: one household by its id": (
            homes, lambda home: db.session.scalar(select(Household.number).where(Household.id == home.id))),
        "household_board(town, month) top 20": (towns, lambda town: household_board(town, MONTH)),
        "household_board(town, month, worst) 黑榜": (towns, lambda town: household_board(town, MONTH, worst=True)),
        "household_board(village, month) top 20": (villages, lambda village: household_board(village, MONTH)),
        "resident_board(town, month) top 20": (towns, lambda town: resident_board(town, MONTH)),
        "grid_board(village, month)": (villages, lambda village: grid_board(village, MONTH)),
        "grid_board(town, month)": (towns, lambda town: grid_board(town, MONTH)),
        "household_place(household, village, month)": (
            list(zip(homes, villages)), lambda pair: household_place(pair[0], pair[1], MONTH)),
    }
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = {}
    for label, (scopes, call) in figures.items():
        for scope in scopes:  # warm up: every scope's pages in the cache
            call(scope)
            db.session.rollback()
        times = []
        for index in range(runs):
            scope = scopes[index % len(scopes)]
            started = time.perf_counter()
            result = call(scope)
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
            if label.endswith("top 20") and not result:
                sys.exit(f"{label}: an empty board")
        times.sort()
        median, p95 = statistics.median(times), times[max(0, -(-len(times) * 95 // 100) - 1)]
        results[label] = (median, p95)
        print(f"{label} {dialect} {county.layers}×: median {median:.1f} ms, p95 {p95:.1f} ms "
              f"(min {times[0]:.1f}, max {times[-1]:.1f}, {runs} runs)")
    return results


def explain(dialect: str, county) -> None:
    """The plans of the town's top-20 queries (the statements household_board sends on period_totals: the bound of
    its walk, then the walk), with PostgreSQL's timings."""
    town = db.session.get(GridNode, county.towns[0])
    statements = []

    def capture(connection, cursor, statement, parameters, context, executemany):
        if "FROM period_totals" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        household_board(town, MONTH)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    print(f"plans of household_board(town, month) {dialect} {county.layers}×:")
    for statement, parameters in statements:
        rows = db.session.connection().exec_driver_sql(prefix + statement, parameters).all()
        db.session.rollback()
        print("  " + " ".join(statement.split()))
        for row in rows:
            print("    " + (row[0] if dialect == "postgresql" else f"{row[0]} {row[1]} {row[-1]}"))


if __name__ == "__main__":
    main()

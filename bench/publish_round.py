"""Benchmark: publish a town-sized 卫生评比 round (714 grids × 50 households, every household scored) into the ledger.

    python bench/publish_round.py                                   # SQLite in a temporary folder
    python bench/publish_round.py --database-url postgresql://postgres@127.0.0.1/points_bench_publish

The PostgreSQL database named in the URL is dropped and created afresh, and dropped again at the end.
Prints one line per figure; the first publication is the one the 10-second target applies to.
"""
import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import make_url

# Run from a checkout without installing the app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.postgres import reset_postgres  # noqa: E402
from points import create_app  # noqa: E402
from points.audit.models import AuditEvent  # noqa: E402
from points.auth.models import Role  # noqa: E402
from points.auth.services import assign_role, create_user  # noqa: E402
from points.config import database_url  # noqa: E402
from points.extensions import db  # noqa: E402
from points.grids.models import GridNode, GridPath, NodeKind  # noqa: E402
from points.grids.services import create_node  # noqa: E402
from points.hygiene import inspection, publishing, village_settings  # noqa: E402
from points.hygiene.models import Deduction, Outcome, Result, Score  # noqa: E402
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal  # noqa: E402
from points.people.models import Household, HouseholdKind, Resident  # noqa: E402
from points.periods import week_of
from points.timeutil import local_today, utcnow  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜"
GIVEN = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆芳娜敏静丽艳娟霞燕玲桂英秀兰梅"
STREETS = ("前街", "后街", "东路", "西路", "南巷", "北巷", "中心路", "榕树下", "新村", "祠堂边")
DEDUCTED = 0.3  # the chance that an item deducts anything; then 1 … its maximum, evenly
CORRECTED = 0.01  # the share of sheets saved again before the correction
_CHUNK = 5000  # rows per bulk insert of the setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=714)
    parser.add_argument("--per-grid", type=int, default=50, help="households in each grid")
    parser.add_argument("--database-url", help="PostgreSQL; SQLite in a temporary folder when absent")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the first publication and print its N costliest functions (cumulative)")
    args = parser.parse_args()

    # The machine may be shared: a load above the number of cores stretches every figure below.
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.database_url:
        url = database_url(args.database_url, "")
        reset_postgres(url, create=True)
        try:
            run(url, args)
        finally:
            reset_postgres(url, create=False)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite:///" + str(Path(folder) / "bench.db"), args)


def run(url: str, args: argparse.Namespace) -> None:
    """Build the village and its scored round, then time the publication, a repeat and a correction."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    dialect = make_url(url).get_backend_name()
    rng = random.Random(args.seed)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        admin, round_ = build_round(args.grids, args.per_grid, rng)
        db.session.commit()
        sheets = db.session.scalar(select(func.count()).select_from(Score).where(Score.round_id == round_.id))
        print(f"build {args.grids} grids, {sheets} households and score sheets, round {round_.week}: "
              f"{time.perf_counter() - started:.1f} s")

        profiler = cProfile.Profile() if args.profile else None
        timed(f"publish all grids {dialect}", lambda: publishing.publish_round(admin, round_), profiler)
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        check_ledger(round_)
        ceiling(dialect)

        timed(f"publish again, unchanged {dialect}", lambda: publishing.publish_round(admin, round_))

        started = time.perf_counter()
        corrected = correct_sheets(admin, round_, rng)
        db.session.commit()
        print(f"save {corrected} corrected sheets (save_score, one by one): {time.perf_counter() - started:.1f} s")
        timed(f"publish the correction {dialect}", lambda: publishing.publish_round(admin, round_))
        check_ledger(round_)
        db.session.remove()
        db.engine.dispose()


def ceiling(dialect: str) -> None:
    """The same stack's ceiling for the publication's writes: its ledger entries and the balances they move, written
    again by one executemany each through the same session, with none of the services' work (no ranking, no results,
    no period totals, no audit); rolled back."""
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.source == EntrySource.INSPECTION)).all()
    rows = [dict(household_id=e.household_id, amount=e.amount, category=e.category, source=e.source,
                 occurred_on=e.occurred_on, rule_version_id=e.rule_version_id, idempotency_key=f"ceiling:{e.id}",
                 note=e.note) for e in entries]
    balances = [dict(id=e.household_id, amount=e.amount) for e in entries]
    db.session.commit()
    started = time.perf_counter()
    db.session.execute(insert(LedgerEntry), rows)
    table = HouseholdBalance.__table__
    db.session.execute(update(table).where(table.c.household_id == bindparam("id"))
                       .values(balance=table.c.balance + bindparam("amount")), balances)
    db.session.flush()
    elapsed = time.perf_counter() - started
    db.session.rollback()
    print(f"ceiling {dialect}: the same {len(rows)} entries and balances by one executemany each: {elapsed:.2f} s")


def timed(label: str, publish, profiler: cProfile.Profile | None = None):
    """Run publish and the commit after it, as a request would, and print the time they took."""
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    publication = publish()
    db.session.commit()
    if profiler is not None:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label}: posted {publication.posted}, reversed {publication.reversed}: {elapsed:.1f} s "
          f"(this process's CPU: {cpu:.1f} s)")
    return publication


# ---------------------------------------------------------------------------------------------------- the setup


def build_round(grids: int, per_grid: int, rng: random.Random):
    """安海镇 / 瑶前村 with its grids and households, the village admin, last week's round from inspection.round_for,
    and a score sheet for every household. Grids, households and sheets are bulk inserts of the rows that
    create_node, create_household and save_score would write (audit events included)."""
    town = create_node("安海镇", "anhai", NodeKind.TOWN)
    village = create_node("瑶前村", "yaoqian", NodeKind.VILLAGE, town)
    grid_ids = bulk_grids(village, grids)
    bulk_households(village, grid_ids, per_grid, rng)
    admin = create_user("cunguan", "bench-pass-1", "村管理员")
    assign_role(None, admin, Role.VILLAGE_ADMIN, village)
    db.session.flush()
    round_ = inspection.round_for(village, week_of(local_today() - timedelta(days=7)))
    bulk_sheets(admin, round_, rng)
    return admin, round_


def bulk_grids(village: GridNode, count: int) -> list[int]:
    """The village's grids, each with its closure rows (itself, and every ancestor of the village one further)."""
    db.session.execute(insert(GridNode), [
        dict(name=f"第{n}网格", code=f"{village.code}-{n}", kind=NodeKind.GRID, parent_id=village.id,
             depth=village.depth + 1, village_id=village.id)
        for n in range(1, count + 1)
    ])
    ids = list(db.session.scalars(select(GridNode.id).where(GridNode.parent_id == village.id).order_by(GridNode.id)))
    above = db.session.execute(
        select(GridPath.ancestor_id, GridPath.distance).where(GridPath.descendant_id == village.id)).all()
    db.session.execute(insert(GridPath), [
        row for grid in ids for row in [dict(ancestor_id=grid, descendant_id=grid, distance=0)]
        + [dict(ancestor_id=ancestor, descendant_id=grid, distance=distance + 1) for ancestor, distance in above]
    ])
    return ids


def bulk_households(village: GridNode, grid_ids: list[int], per_grid: int, rng: random.Random) -> None:
    """per_grid households in each grid, numbered 0001 on, each with its head (no phone or ID number) and the
    household.created event."""
    now = utcnow()
    houses = [
        dict(village_id=village.id, grid_id=grid, number=f"{index + 1:04d}",
             address=f"瑶前村{rng.choice(STREETS)}{rng.randint(1, 400)}号",
             kind=HouseholdKind.RENTER if rng.random() < 0.08 else HouseholdKind.REGISTERED, created_at=now)
        for index, grid in enumerate(g for g in grid_ids for _ in range(per_grid))
    ]
    for start in range(0, len(houses), _CHUNK):
        db.session.execute(insert(Household), houses[start:start + _CHUNK])
    ids = dict(db.session.execute(
        select(Household.number, Household.id).where(Household.village_id == village.id)).all())
    heads = {h["number"]: rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
             for h in houses}
    residents = [dict(household_id=ids[number], name=name, relation="户主", phone=None, id_number=None, created_at=now)
                 for number, name in heads.items()]
    for start in range(0, len(residents), _CHUNK):
        db.session.execute(insert(Resident), residents[start:start + _CHUNK], execution_options={"render_nulls": True})
    head_of = db.session.execute(select(Resident.household_id, Resident.id)
                                 .join(Household, Resident.household_id == Household.id)
                                 .where(Household.village_id == village.id)).all()
    db.session.execute(update(Household), [dict(id=household, head_id=head) for household, head in head_of])
    events = [dict(created_at=now, actor_id=None, action="household.created", subject_type="household",
                   subject_id=ids[h["number"]], node_id=h["grid_id"], before=None,
                   after={"number": h["number"], "address": h["address"], "kind": h["kind"].value,
                          "head": heads[h["number"]]})
              for h in houses]
    for start in range(0, len(events), _CHUNK):
        db.session.execute(insert(AuditEvent), events[start:start + _CHUNK])


def random_sheet(items, rng: random.Random) -> dict[int, int]:
    """Item id → points deducted, for the items that deduct anything."""
    return {item.id: rng.randint(1, item.max_deduction) for item in items if rng.random() < DEDUCTED}


def bulk_sheets(admin, round_, rng: random.Random) -> None:
    """A first score sheet (revision 1) for every household of the village, saved by the admin, with its
    deductions and its inspection.scored event."""
    items = village_settings.checklist(round_.village_id)
    names = {item.id: item.name for item in items}
    households = db.session.execute(select(Household.id, Household.grid_id, Household.number)
                                    .where(Household.village_id == round_.village_id).order_by(Household.id)).all()
    lines = {household_id: random_sheet(items, rng) for household_id, _, _ in households}
    now = utcnow()
    scores = [dict(round_id=round_.id, household_id=household_id, grid_id=grid_id,
                   deductions=sum(lines[household_id].values()), note="", photo=None, revision=1,
                   scored_by_id=admin.id, scored_at=now)
              for household_id, grid_id, _ in households]
    for start in range(0, len(scores), _CHUNK):
        db.session.execute(insert(Score), scores[start:start + _CHUNK], execution_options={"render_nulls": True})
    ids = dict(db.session.execute(
        select(Score.household_id, Score.id).where(Score.round_id == round_.id)).all())
    deductions = [dict(score_id=ids[household_id], item_id=item, points=points)
                  for household_id, _, _ in households for item, points in lines[household_id].items()]
    for start in range(0, len(deductions), _CHUNK):
        db.session.execute(insert(Deduction), deductions[start:start + _CHUNK])
    events = [dict(created_at=now, actor_id=admin.id, action="inspection.scored", subject_type="household",
                   subject_id=household_id, node_id=grid_id, before=None,
                   after={"household": number, "week": round_.week, "deductions": sum(lines[household_id].values()),
                          "items": {names[i]: p for i, p in lines[household_id].items()}})
              for household_id, grid_id, number in households]
    for start in range(0, len(events), _CHUNK):
        db.session.execute(insert(AuditEvent), events[start:start + _CHUNK])


def correct_sheets(admin, round_, rng: random.Random) -> int:
    """Save a fresh random sheet over CORRECTED of the sheets, through inspection.save_score."""
    items = village_settings.checklist(round_.village_id)
    household_ids = list(db.session.scalars(select(Score.household_id).where(Score.round_id == round_.id)
                                            .order_by(Score.household_id)))
    chosen = rng.sample(household_ids, max(1, round(len(household_ids) * CORRECTED)))
    for household_id in chosen:
        inspection.save_score(admin, round_, household_id, random_sheet(items, rng))
    return len(chosen)


# ---------------------------------------------------------------------------------------------------- the check


def check_ledger(round_) -> None:
    """Every household's balance equals the sum of its entries and its all-time total; the awards not reversed
    are as many as the 示范户 results. Exits on a mismatch."""
    balances = dict(db.session.execute(select(HouseholdBalance.household_id, HouseholdBalance.balance)).all())
    sums = dict(db.session.execute(select(LedgerEntry.household_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.household_id)).all())
    totals = dict(db.session.execute(select(PeriodTotal.household_id, PeriodTotal.total).where(
        PeriodTotal.period == "ALL", PeriodTotal.resident_id == 0, PeriodTotal.category == "")).all())
    households = db.session.scalars(select(Household.id)).all()
    wrong = [h for h in households if not balances.get(h, 0) == int(sums.get(h, 0)) == totals.get(h, 0)]
    undone = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
    awards = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.source == EntrySource.INSPECTION, LedgerEntry.amount > 0, LedgerEntry.id.not_in(undone)))
    models = db.session.scalar(select(func.count()).select_from(Result).where(
        Result.round_id == round_.id, Result.outcome == Outcome.MODEL))
    ok = not wrong and awards == models
    print(f"ledger check: {len(households) - len(wrong)} of {len(households)} balances == sum of entries == "
          f"all-time total; {awards} awards in force, {models} 示范户 results: {'ok' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(f"ledger inconsistent: households {wrong[:10]}, awards {awards} != 示范户 {models}")


if __name__ == "__main__":
    main()

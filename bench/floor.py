"""Benchmark: the least a check-in and a redemption can cost on this stack, against load.py's ceiling.

The app of load.py, served the same way, with two more routes that do what POST /api/v1/checkins (a villager's own
scan, 本人扫码) and POST /api/v1/redemptions (one product for a household) do, reduced to the statements any
implementation that writes each row by its own statement must send, through SQLAlchemy Core: no ORM, none of the
app's layers (flask-smorest, marshmallow, the rate limits, the services), and each check the database need not
see left out but the token's, the code's and the caller's scope.

- POST /bench/checkin: the token with its user and household; the event; the attendance (`INSERT … ON CONFLICT DO
  NOTHING RETURNING`); the event's count (a guarded `UPDATE … RETURNING`); the audit event; the commit: 5 statements.
  It takes the printed (static) code of an event under way, which is what load.py's villagers scan.
- POST /bench/redemption: the token with the clerk's roles; the shop's products; the household; its balance, locked,
  checked and lowered by one guarded `UPDATE`; the redemption; the stock, its movement and the line; the ledger's
  entry; the redemption's entry; the audit event; the commit: 11 statements. The app writes one audit event more,
  the ledger's of the entry.
- POST /bench/redemption-in-one: the same reads, then every write of a one-line basket in one statement of
  data-modifying CTEs (PostgreSQL alone): what is left when the write moves into the database.

Six runs one after the other on the same server: `healthz` (the ceiling), `checkin` and `redemption` (the app's, as
load.py's) and the floors, each with its share of the ceiling. What a floor reaches bounds what an implementation of
that write in Flask and SQLAlchemy reaches on this machine.

    python bench/floor.py --database-url postgresql://postgres@127.0.0.1/points_load --reuse   # load.py --keep's

Needs locust (`pip install -r bench/requirements.txt`).
"""
import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from flask import Blueprint, jsonify, request
from sqlalchemy import bindparam, insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the app

from bench.county import PRESETS, county_for_benchmark  # noqa: E402
from bench.load import (  # noqa: E402
    _free_port,
    check_invariants,
    counts,
    load,
    main,
    prepare,
    start_server,
    stop_server,
)
from points import create_app as create_points_app  # noqa: E402
from points.audit.models import AuditEvent  # noqa: E402
from points.auth.models import ApiToken, Role, RoleAssignment, User  # noqa: E402
from points.events.checkins import _serializer  # noqa: E402
from points.events.models import Attendance, CheckinMethod, Event  # noqa: E402
from points.extensions import conflict_insert, csrf, db  # noqa: E402
from points.ledger.models import EntrySource, HouseholdBalance, LedgerEntry  # noqa: E402
from points.people.models import Household, Resident  # noqa: E402
from points.shop.models import Product, Redemption, RedemptionLine, Shop, StockChange, StockMovement  # noqa: E402
from points.timeutil import local_today, utcnow  # noqa: E402

RUNS = (("healthz", "TrivialUser"), ("checkin", "CheckinUser"), ("checkin-floor", "FloorCheckinUser"),
        ("redemption", "RedemptionUser"), ("redemption-floor", "FloorRedemptionUser"),
        ("redemption-in-one", "InOneRedemptionUser"))

bp = Blueprint("bench_floor", __name__)

CALLER = (select(ApiToken.expires_at, ApiToken.session_version.label("token_version"), User.id, User.active,
                 User.session_version, User.resident_id, Household.id.label("household_id"), Household.village_id,
                 Household.grid_id, Household.number)
          .join(User, User.id == ApiToken.user_id).join(Resident, Resident.id == User.resident_id)
          .join(Household, Household.id == Resident.household_id)
          .where(ApiToken.token_hash == bindparam("token_hash")))
EVENT = select(Event.village_id, Event.grid_id, Event.starts_at, Event.ends_at, Event.closed_at, Event.code_version
               ).where(Event.id == bindparam("event_id"))
COUNT = (update(Event).where(Event.id == bindparam("event_id"), Event.closed_at.is_(None),
                             Event.capacity.is_(None) | (Event.attendees < Event.capacity))
         .values(attendees=Event.attendees + 1).returning(Event.attendees))


def _refused(code: str, status: int):
    db.session.rollback()
    return jsonify(error={"code": code}), status


@bp.post("/bench/checkin")
def floor_checkin():
    """The check-in's statements and nothing else the database need not see; a repeat answers 200."""
    token = request.headers.get("Authorization", "").partition(" ")[2]
    body = request.get_json()
    now = utcnow()
    connection = db.session.connection()
    caller = connection.execute(CALLER, {"token_hash": hashlib.sha256(token.encode()).hexdigest()}).first()
    if caller is None or caller.expires_at < now or not caller.active or caller.token_version != caller.session_version:
        return _refused("invalid_token", 401)
    event_id, kind, version = _serializer().loads(body["token"])
    event = connection.execute(EVENT, {"event_id": event_id}).first()
    if event is None or kind != "s" or version != event.code_version or event_id != body["event_id"]:
        return _refused("invalid_code", 400)
    if event.village_id != caller.village_id or event.grid_id not in (None, caller.grid_id):
        return _refused("not_resident_here", 403)
    if event.closed_at is not None or not event.starts_at <= now <= event.ends_at:
        return _refused("event_over", 400)
    attendance = connection.execute(
        conflict_insert(connection.dialect.name)(Attendance).on_conflict_do_nothing()
        .returning(Attendance.id, Attendance.resident_id),
        dict(event_id=event_id, resident_id=caller.resident_id, household_id=caller.household_id,
             method=CheckinMethod.SELF, recorded_by_id=caller.id, checked_in_at=now, unpaid_reason="",
             client_key=f"api:{request.headers['Idempotency-Key']}",
             request_digest=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest())).first()
    if attendance is None:
        db.session.rollback()
        return jsonify(already=True, event_id=event_id), 200
    if connection.execute(COUNT, {"event_id": event_id}).scalar() is None:
        return _refused("event_full", 409)
    connection.execute(insert(AuditEvent), dict(
        created_at=now, actor_id=caller.id, action="event.checked_in", subject_type="event", subject_id=event_id,
        node_id=caller.grid_id, after={"household": caller.number, "method": "self"}))
    db.session.commit()
    return jsonify(already=False, event_id=event_id, attendance={
        "id": attendance.id, "resident_id": attendance.resident_id, "household_id": caller.household_id,
        "method": "self",
        "checked_in_at": now.isoformat()}), 201


CLERK = (select(ApiToken.expires_at, ApiToken.session_version.label("token_version"), User.id, User.active,
                User.session_version, RoleAssignment.role, RoleAssignment.node_id)
         .join(User, User.id == ApiToken.user_id).join(RoleAssignment, RoleAssignment.user_id == User.id)
         .where(ApiToken.token_hash == bindparam("token_hash")))
SHELF = (select(Shop.village_id, Shop.name.label("shop"), Product.id, Product.name, Product.unit, Product.price,
                Product.active)
         .join(Shop, Shop.id == Product.shop_id)
         .where(Shop.id == bindparam("shop_id"), Product.id.in_(bindparam("product_ids", expanding=True))))
CUSTOMER = select(Household.village_id, Household.grid_id, Household.number).where(Household.id == bindparam("id"))
SPEND = (update(HouseholdBalance).where(HouseholdBalance.household_id == bindparam("household"),
                                        HouseholdBalance.balance >= bindparam("total"))
         .values(balance=HouseholdBalance.balance - bindparam("total")).returning(HouseholdBalance.balance))
TAKE = (update(Product).where(Product.id == bindparam("product_id"), Product.stock >= bindparam("quantity"))
        .values(stock=Product.stock - bindparam("quantity")).returning(Product.stock))
SPENT = update(Redemption).where(Redemption.id == bindparam("redemption_id")).values(entry_id=bindparam("entry"))


def _clerk_roles(connection, now) -> list:
    """The bearer token's user with each of their roles, a row each; none for a token that is not good now."""
    token = request.headers.get("Authorization", "").partition(" ")[2]
    roles = connection.execute(CLERK, {"token_hash": hashlib.sha256(token.encode()).hexdigest()}).all()
    user = roles[0] if roles else None
    if user is None or user.expires_at < now or not user.active or user.token_version != user.session_version:
        return []
    return roles


@bp.post("/bench/redemption")
def floor_redemption():
    """A redemption's statements and nothing else the database need not see: the clerk and their roles, the shop's
    products, the household, its balance taken (locked, checked and lowered by one guarded UPDATE), the redemption,
    each line's stock, movement and line, the ledger's entry, the redemption's entry, the audit event."""
    body, now, connection = request.get_json(), utcnow(), db.session.connection()
    roles = _clerk_roles(connection, now)
    if not roles:
        return _refused("invalid_token", 401)
    clerk = roles[0]
    basket = {line["product_id"]: line["quantity"] for line in body["lines"]}
    products = {p.id: p for p in connection.execute(SHELF, {"shop_id": body["shop_id"], "product_ids": list(basket)})}
    if len(products) < len(basket) or not all(p.active for p in products.values()):
        return _refused("unknown_product", 400)
    village_id = next(iter(products.values())).village_id
    if not any(r.role is Role.SHOP_CLERK and r.node_id == village_id for r in roles):
        return _refused("forbidden", 403)
    household = connection.execute(CUSTOMER, {"id": body["household_id"]}).first()
    if household is None or household.village_id != village_id:
        return _refused("not_found", 404)
    total = sum(products[p].price * q for p, q in basket.items())
    balance = connection.execute(SPEND, {"household": body["household_id"], "total": total}).scalar()
    if balance is None:
        return _refused("insufficient_balance", 409)
    fingerprint = hashlib.sha256(json.dumps([body["shop_id"], body["household_id"], sorted(basket.items())]).encode())
    redemption_id = connection.execute(insert(Redemption).returning(Redemption.id), dict(
        shop_id=body["shop_id"], household_id=body["household_id"], total=total, clerk_id=clerk.id,
        client_key=f"api:{request.headers['Idempotency-Key']}", fingerprint=fingerprint.hexdigest(),
        created_at=now)).scalar()
    for product_id, quantity in sorted(basket.items()):
        if connection.execute(TAKE, {"product_id": product_id, "quantity": quantity}).scalar() is None:
            return _refused("insufficient_stock", 409)
        connection.execute(insert(StockMovement), dict(product_id=product_id, quantity=-quantity,
                                                       kind=StockChange.REDEMPTION, reason="",
                                                       redemption_id=redemption_id, actor_id=clerk.id,
                                                       created_at=now))
        product = products[product_id]
        connection.execute(insert(RedemptionLine), dict(redemption_id=redemption_id, product_id=product_id,
                                                        name=product.name, unit=product.unit, price=product.price,
                                                        quantity=quantity))
    shop = products[next(iter(basket))].shop
    entry_id = connection.execute(insert(LedgerEntry).returning(LedgerEntry.id), dict(
        household_id=body["household_id"], amount=-total, source=EntrySource.REDEMPTION, actor_id=clerk.id,
        occurred_on=local_today(), created_at=now, note=f"{shop} DH{redemption_id:08d}"[:200], hours=0,
        idempotency_key=f"redemption:{redemption_id}")).scalar()
    connection.execute(SPENT, {"redemption_id": redemption_id, "entry": entry_id})
    connection.execute(insert(AuditEvent), dict(
        created_at=now, actor_id=clerk.id, action="redemption.made", subject_type="redemption",
        subject_id=redemption_id, node_id=household.grid_id,
        after={"household": household.number, "total": total,
               "lines": {products[p].name: q for p, q in basket.items()}}))
    db.session.commit()
    return jsonify(id=redemption_id, household_id=body["household_id"], total=total, entry_id=entry_id,
                   balance_after=balance, created_at=now.isoformat()), 201


# The whole write of a one-line basket in one statement (PostgreSQL): the balance taken, then the stock, then the
# rows, each only if the step before it took; the foreign keys are checked at the statement's end.
REDEEM_IN_ONE = text("""
WITH spend AS (
    UPDATE household_balances SET balance = balance - :total
    WHERE household_id = :household AND balance >= :total RETURNING balance),
take AS (
    UPDATE products SET stock = stock - :quantity
    WHERE id = :product AND stock >= :quantity AND EXISTS (SELECT FROM spend) RETURNING id),
ids AS (
    SELECT nextval('redemptions_id_seq') AS redemption, nextval('ledger_entries_id_seq') AS entry FROM take),
entry AS (
    INSERT INTO ledger_entries (id, household_id, amount, source, actor_id, occurred_on, created_at, note, hours,
                                idempotency_key)
    SELECT entry, :household, -:total, 'redemption', :clerk, :today, :now,
           :shop || ' DH' || lpad(redemption::text, 8, '0'), 0, 'redemption:' || redemption FROM ids),
made AS (
    INSERT INTO redemptions (id, shop_id, household_id, total, entry_id, clerk_id, client_key, fingerprint, created_at)
    SELECT redemption, :shop_id, :household, :total, entry, :clerk, :key, :fingerprint, :now FROM ids),
moved AS (
    INSERT INTO stock_movements (product_id, quantity, kind, reason, redemption_id, actor_id, created_at)
    SELECT :product, -:quantity, 'redemption', '', redemption, :clerk, :now FROM ids),
line AS (
    INSERT INTO redemption_lines (redemption_id, product_id, name, unit, price, quantity)
    SELECT redemption, :product, :name, :unit, :price, :quantity FROM ids),
audit AS (
    INSERT INTO audit_events (created_at, actor_id, action, subject_type, subject_id, node_id, after)
    SELECT :now, :clerk, 'redemption.made', 'redemption', redemption, :grid, CAST(:after AS json) FROM ids)
SELECT (SELECT balance FROM spend) AS balance, redemption, entry FROM (SELECT 1) AS one LEFT JOIN ids ON true
""")


@bp.post("/bench/redemption-in-one")
def floor_redemption_in_one():
    """The redemption's floor with its writes in one statement (a one-line basket, PostgreSQL): the clerk and their
    roles, the shop's product, the household, then one statement."""
    body, now, connection = request.get_json(), utcnow(), db.session.connection()
    roles = _clerk_roles(connection, now)
    if not roles:
        return _refused("invalid_token", 401)
    clerk = roles[0]
    [line] = body["lines"]
    product = connection.execute(SHELF, {"shop_id": body["shop_id"], "product_ids": [line["product_id"]]}).first()
    if product is None or not product.active:
        return _refused("unknown_product", 400)
    if not any(r.role is Role.SHOP_CLERK and r.node_id == product.village_id for r in roles):
        return _refused("forbidden", 403)
    household = connection.execute(CUSTOMER, {"id": body["household_id"]}).first()
    if household is None or household.village_id != product.village_id:
        return _refused("not_found", 404)
    total = product.price * line["quantity"]
    basket = [body["shop_id"], body["household_id"], [[product.id, line["quantity"]]]]
    done = connection.execute(REDEEM_IN_ONE, dict(
        total=total, household=body["household_id"], product=product.id, quantity=line["quantity"], clerk=clerk.id,
        today=local_today(), now=now, shop=product.shop, shop_id=body["shop_id"],
        key=f"api:{request.headers['Idempotency-Key']}",
        fingerprint=hashlib.sha256(json.dumps(basket).encode()).hexdigest(), name=product.name, unit=product.unit,
        price=product.price, grid=household.grid_id,
        after=json.dumps({"household": household.number, "total": total, "lines": {product.name: line["quantity"]}},
                         ensure_ascii=False))).first()
    if done.redemption is None:
        return _refused("insufficient_balance" if done.balance is None else "insufficient_stock", 409)
    db.session.commit()
    return jsonify(id=done.redemption, household_id=body["household_id"], total=total, entry_id=done.entry,
                   balance_after=done.balance, created_at=now.isoformat()), 201


def create_app(config: dict | None = None):
    """gunicorn's app: the app of load.py (configured by the environment), with the floor's routes."""
    app = create_points_app(config)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    return app


def run(url: str, args: argparse.Namespace, folder: Path) -> None:
    app = create_points_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        county = county_for_benchmark(PRESETS[args.preset], args.reuse)
        taken = set(db.session.scalars(select(User.username).where(User.username.like("bench-admin-%"))))
        villages = [v for v in county.villages if f"bench-admin-{v}" not in taken][:args.villages]
        data = prepare(villages, args.events)
        data_file = folder / "data.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        before = counts()

    port = _free_port()
    server = start_server(url, port, args.workers, args.threads, folder, app="bench.floor:create_app()")
    try:
        results = {}
        for name, user_class in RUNS:
            print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            results[name] = row = load(name, user_class, port, args, data_file, folder)
            print(f"{name}: {row['rps']:.1f} requests/s ({row['rps'] / results['healthz']['rps']:.0%} of healthz), "
                  f"p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms, {row['requests']} requests, "
                  f"{row['failures']} failed")
            time.sleep(1)
    finally:
        stop_server(server)
    with app.app_context():
        after = counts()
        answered = {kind: sum(row["requests"] - row["failures"] for name, row in results.items()
                              if name.startswith(kind)) for kind in ("checkin", "redemption")}
        print(f"answered 201 / stored: check-ins {answered['checkin']} / "
              f"{after['attendances'] - before['attendances']}, redemptions {answered['redemption']} / "
              f"{after['redemptions'] - before['redemptions']}")
        check_invariants()


if __name__ == "__main__":
    main(run, __doc__)

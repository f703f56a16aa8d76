"""A 清零 racing the counter: two runs of the cron and 20 redemptions of the same household at once, each in its own
thread, app context and session, end with one run, the balance the sum of the entries and never below zero, every
point either spent or cleared once, pending points kept, the period totals untouched and the stock consistent (on
SQLite, and on PostgreSQL when TEST_DATABASE_URL is set)."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time

import pytest
import time_machine
from sqlalchemy import func, select

from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.grids.models import GridNode
from points.ledger import lifecycle
from points.ledger.models import (
    EntrySource,
    ExpiryMode,
    ExpiryRun,
    HouseholdBalance,
    LedgerEntry,
    LedgerSettings,
    PeriodTotal,
)
from points.ledger.services import post_entry
from points.shop import services as shop_services
from points.shop.models import Product, StockMovement
from points.timeutil import LOCAL

from .. import factories

RESET_DAY = date(2027, 1, 10)
REDEMPTIONS = 20
PRICE = 10


def _redeem(app, start, shop_id, clerk_id, product_id, household_id):
    """One basket of one item, once every thread is ready: the balance after it, or the refusal's code."""
    start.wait()
    with app.app_context():
        try:
            done = shop_services.redeem(db.session.get(User, clerk_id), shop_services.shop_of(shop_id),
                                        [(product_id, 1)], household_id=household_id)
            db.session.commit()
            return done.balance_after
        except DomainError as refusal:
            db.session.rollback()
            return refusal.code


def _expire(app, start, village_id):
    """The cron's run, once every thread is ready: whether it made the period's run."""
    start.wait()
    with app.app_context():
        _, made = lifecycle.run_expiry(None, db.session.get(GridNode, village_id), RESET_DAY)
        db.session.commit()
        return made


def _ready(village, after_publicity: bool):
    """A village resetting today, its shop and clerk, and a household with 100 old points, 60 earned this month
    before the reset day and 50 on it: 210 in all."""
    db.session.add(LedgerSettings(village_id=village.village.id, objection_days=7,
                                  spend_after_publicity=after_publicity, expiry=ExpiryMode.RESET, reset_on=RESET_DAY,
                                  carry_percent=0, carry_cap=None, expiry_months=24))
    shop = factories.gen_shop(village.village)
    product = factories.gen_product(shop, "洗洁精", price=PRICE, stock=100)
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    for amount, day in ((100, date(2026, 6, 1)), (60, date(2027, 1, 5)), (50, RESET_DAY)):
        post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("race-"), occurred_on=day)
    db.session.commit()
    return shop.id, clerk.id, product.id, household.id


def _totals() -> list[tuple]:
    return sorted(db.session.execute(select(PeriodTotal.period, PeriodTotal.household_id, PeriodTotal.resident_id,
                                            PeriodTotal.category, PeriodTotal.total, PeriodTotal.entries,
                                            PeriodTotal.deducted, PeriodTotal.hours)).all())


@pytest.mark.parametrize("after_publicity", [True, False], ids=["points-wait-for-publicity", "points-count-at-once"])
def test_an_expiry_racing_twenty_redemptions_keeps_every_invariant(app, village, after_publicity):
    noon = datetime.combine(RESET_DAY, time(12)).replace(tzinfo=LOCAL)
    with time_machine.travel(noon, tick=False):
        shop_id, clerk_id, product_id, household_id = _ready(village, after_publicity)
        before = _totals()
        start = threading.Barrier(REDEMPTIONS + 2, timeout=60)
        with ThreadPoolExecutor(REDEMPTIONS + 2) as pool:
            baskets = [pool.submit(_redeem, app, start, shop_id, clerk_id, product_id, household_id)
                       for _ in range(REDEMPTIONS // 2)]
            runs = [pool.submit(_expire, app, start, village.village.id) for _ in range(2)]
            baskets += [pool.submit(_redeem, app, start, shop_id, clerk_id, product_id, household_id)
                        for _ in range(REDEMPTIONS - REDEMPTIONS // 2)]
            answers = [basket.result() for basket in baskets]
            made = sorted(run.result() for run in runs)
    db.session.expire_all()

    assert made == [False, True] and db.session.scalar(select(func.count()).select_from(ExpiryRun)) == 1
    run = db.session.scalar(select(ExpiryRun))
    sold = [a for a in answers if isinstance(a, int)]
    assert all(after >= 0 for after in sold)
    refused = {a for a in answers if not isinstance(a, int)}
    assert refused <= {"points_pending", "insufficient_balance"}
    balance = db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id))
    assert balance == db.session.scalar(select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.household_id == household_id))
    assert balance >= 0 and PRICE * len(sold) + run.points + balance == 210
    if after_publicity:  # this month's 110 are pending: never spent, never cleared; the old 100 went one way or other
        assert balance == 110 and PRICE * len(sold) + run.points == 100
    else:  # the 50 earned on the reset day are kept by the run, and may be spent after it
        assert run.points <= 160 and run.households == (1 if run.points else 0)
    assert _totals() == before  # neither spending nor a 清零 counts in the boards' totals
    product = db.session.get(Product, product_id)
    assert product.stock == 100 - len(sold) == db.session.scalar(
        select(func.sum(StockMovement.quantity)).where(StockMovement.product_id == product_id))

"""Property: with awards, penalties, redemptions at the counter, voids, reversals, the clock moving across months and
their 公示 windows, and 清零 runs interleaved, the balance is the sum of the entries, available + pending is the
balance, pending is what was earned since its month, no redemption spends more than was available at that moment,
a 清零 never takes pending points, and a run made twice posts once."""
from datetime import date, datetime, time, timedelta

import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.ledger import lifecycle
from points.ledger.models import EntrySource, ExpiryMode, HouseholdBalance, LedgerEntry, LedgerSettings
from points.ledger.services import post_entry, reverse_entry
from points.ledger.standing import standing_of
from points.shop import services as shop
from points.shop.models import Redemption
from points.timeutil import LOCAL, local_today

from .. import factories
from .helpers import rule_versions

START = date(2026, 12, 20)  # the steps run on over a new year, a reset day and several 公示 windows
OPENING = (date(2026, 11, 10), 60)  # points earned before the steps: old enough to expire in a few weeks
RESET_ON = date(2027, 1, 10)
PRICE = 10

steps = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.integers(1, 60)),
        st.tuples(st.just("penalty"), st.integers(1, 40)),
        st.tuples(st.just("redeem"), st.integers(1, 12)),
        st.tuples(st.just("void"), st.integers(0, 30)),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
        st.tuples(st.just("clock"), st.integers(1, 25)),
        st.tuples(st.just("expire"), st.just(0)),
    ),
    max_size=30,
)


class Counter:
    """A village with its own settings, shop, admin and household, and the clock the steps move."""

    def __init__(self, after_publicity: bool, mode: ExpiryMode, clock):
        self.village = factories.gen_village(grids=1)
        db.session.add(LedgerSettings(
            village_id=self.village.village.id, objection_days=7, spend_after_publicity=after_publicity, expiry=mode,
            reset_on=RESET_ON if mode is ExpiryMode.RESET else None, carry_percent=20, carry_cap=15,
            expiry_months=1))
        self.settings = db.session.get(LedgerSettings, self.village.village.id)
        self.shop = factories.gen_shop(self.village.village)
        self.product = factories.gen_product(self.shop, "香皂", price=PRICE, stock=10_000)
        self.admin = factories.gen_user(Role.VILLAGE_ADMIN, self.village.village)
        self.household = factories.gen_household(self.village.grids[0])
        self.award_rule, self.penalty_rule, _ = rule_versions(self.village)
        self.clock = clock
        self.entries: list[int] = []  # awards and penalties, to reverse
        self.redemptions: list[int] = []
        day, points = OPENING
        post_entry(self.household.id, points, EntrySource.MANUAL, self.key("opening", 0), occurred_on=day)
        db.session.commit()

    def step(self, index: int, kind: str, size: int) -> None:
        """One step, committed as a request would be; a refusal is rolled back after its code is checked."""
        try:
            getattr(self, kind)(index, size)
            db.session.commit()
        except DomainError as refusal:
            db.session.rollback()
            assert refusal.code in {"insufficient_balance", "already_reversed", "expiry_not_due"}, refusal.code

    def key(self, kind: str, index: int) -> str:
        """A ledger key of this household's step (keys are unique across the whole ledger)."""
        return f"{self.household.id}-{kind}{index}"

    def award(self, index: int, size: int) -> None:
        self.entries.append(post_entry(self.household.id, size, EntrySource.MANUAL, self.key("a", index),
                                       rule_version=self.award_rule).id)

    def penalty(self, index: int, size: int) -> None:
        self.entries.append(post_entry(self.household.id, -size, EntrySource.MANUAL, self.key("p", index),
                                       rule_version=self.penalty_rule).id)

    def reverse(self, index: int, size: int) -> None:
        if self.entries:
            reverse_entry(self.entries[size % len(self.entries)], self.key("r", index))

    def redeem(self, index: int, quantity: int) -> None:
        """A basket checked against what was available just before: refused exactly when it needs more."""
        before = standing_of(self.household)
        needed = quantity * PRICE
        try:
            done = shop.redeem(self.admin, shop.shop_of(self.shop.id), [(self.product.id, quantity)],
                               household_id=self.household.id, client_key=f"k{index}")
        except DomainError as refusal:
            assert needed > before.available, (needed, before, refusal.code)
            wanted = "insufficient_balance" if needed > before.balance else "points_pending"
            assert refusal.code == wanted, (needed, before, refusal.code)
            db.session.rollback()
            return
        assert needed <= before.available, (needed, before)
        assert done.balance_after == before.balance - needed >= 0
        self.redemptions.append(done.redemption.id)

    def void(self, index: int, size: int) -> None:
        if self.redemptions:
            chosen = db.session.get(Redemption, self.redemptions[size % len(self.redemptions)])
            shop.void(self.admin, chosen, "退货")

    def expired(self) -> int:
        """The household's expiry entries so far."""
        return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.household_id == self.household.id, LedgerEntry.source == EntrySource.EXPIRY))

    def clock_(self, index: int, days: int) -> None:
        today = local_today() + timedelta(days=days)
        self.clock.move_to(datetime.combine(today, time(12)).replace(tzinfo=LOCAL))

    def expire(self, index: int, size: int) -> None:
        """A run, then the same run again (the cron's retry): the second posts nothing and pending points stay."""
        before = standing_of(self.household)
        run, made = lifecycle.run_expiry(None, self.village.village)
        db.session.commit()
        posted = self.expired()
        assert lifecycle.run_expiry(None, self.village.village) == (run, False)
        assert self.expired() == posted
        after = balance_row(self.household.id)
        assert after <= before.balance
        if made and after != before.balance:
            assert after >= max(before.pending, 0)  # pending points never expire, nor does a run take a debt deeper




def balance_row(household_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(HouseholdBalance.balance).where(HouseholdBalance.household_id == household_id)) or 0


def expected_pending(counter: Counter, balance: int) -> int:
    """From the entries: the points earned since pending_since less those of them reversed (penalties, spending and
    清零 take the oldest points first), never more than the balance nor below zero."""
    since = lifecycle.pending_since(counter.settings, local_today())
    if since is None:
        return 0
    entries = {e.id: e for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.household_id == counter.household.id))}
    spent = {EntrySource.REDEMPTION, EntrySource.EXPIRY}
    fresh = sum(e.amount for e in entries.values() if e.occurred_on >= since and e.source not in spent
                and (e.amount > 0 if e.reverses_id is None else entries[e.reverses_id].amount > 0)
                and (e.reverses_id is None or entries[e.reverses_id].source not in spent))
    return max(0, min(balance, fresh))


def assert_invariants(counter: Counter) -> None:
    household_id = counter.household.id
    balance = balance_row(household_id)
    assert balance == db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.household_id == household_id))
    shown = standing_of(counter.household)
    assert shown.balance == balance and shown.available + shown.pending == balance
    assert shown.pending == expected_pending(counter, balance)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(after_publicity=st.booleans(), mode=st.sampled_from([ExpiryMode.RESET, ExpiryMode.ROLLING]), plan=steps)
# Always: a basket refused for pending points, a reset (carrying 15) then a basket beyond what is left; a monthly
# expiry that spares the pending month, then takes it a month on; voids and reversals around them.
@example(after_publicity=True, mode=ExpiryMode.RESET, plan=[
    ("award", 50), ("redeem", 8), ("redeem", 3), ("clock", 22), ("expire", 0), ("redeem", 2), ("void", 0),
    ("redeem", 1), ("reverse", 0), ("expire", 0)])
@example(after_publicity=True, mode=ExpiryMode.ROLLING, plan=[
    ("award", 30), ("clock", 15), ("expire", 0), ("redeem", 2), ("clock", 30), ("expire", 0), ("penalty", 20),
    ("expire", 0), ("void", 0)])
def test_points_over_their_life_keep_every_invariant(app, after_publicity, mode, plan):
    with time_machine.travel(datetime.combine(START, time(12)).replace(tzinfo=LOCAL), tick=False) as clock:
        counter = Counter(after_publicity, mode, clock)
        for index, (kind, size) in enumerate(plan):
            counter.step(index, "clock_" if kind == "clock" else kind, size)
            assert_invariants(counter)

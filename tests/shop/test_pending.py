"""Where a village's points count only once their month's 公示 is over, the counter spends the available points
alone: this month's points, and last month's while its 公示 is on, are pending, and the refusal says how many of
each; once the 公示 is over they are spent as any. A village with the default settings spends them at once."""
from datetime import date, datetime, time

import pytest
import time_machine

from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.ledger.models import EntrySource, LedgerSettings
from points.ledger.queries import balance_of
from points.ledger.services import post_entry
from points.ledger.standing import standing_of
from points.shop import services
from points.timeutil import LOCAL

from .. import factories
from ..ledger.helpers import assert_ledger_consistent

TODAY = date(2027, 3, 15)


def moment(day: date) -> datetime:
    return datetime.combine(day, time(12)).replace(tzinfo=LOCAL)


@pytest.fixture
def clock():
    """The clock at noon on 15 March 2027 (Asia/Shanghai), standing still until moved."""
    with time_machine.travel(moment(TODAY), tick=False) as traveller:
        yield traveller


def counter(village, after_publicity: bool = True):
    """A shop (soap at 10 points) in the village, whose points wait for their 公示 (7 days of objections) where
    after_publicity; its clerk; and a household with 100 points earned this month."""
    if after_publicity:
        db.session.add(LedgerSettings(village_id=village.village.id, objection_days=7, spend_after_publicity=True))
    shop = factories.gen_shop(village.village)
    soap = factories.gen_product(shop, "肥皂", price=10, stock=50, unit="块")
    clerk = factories.gen_user(Role.SHOP_CLERK, village.village)
    household = factories.gen_household(village.grids[0])
    earn(household, 100, date(2027, 3, 10))
    db.session.commit()
    return shop, soap, clerk, household


def earn(household, amount: int, day: date) -> None:
    post_entry(household.id, amount, EntrySource.MANUAL, factories.unique("earned-"), occurred_on=day)


def redeem(shop, soap, clerk, household, quantity: int = 1):
    return services.redeem(clerk, shop, [(soap.id, quantity)], household_id=household.id)


def refused(*args) -> DomainError:
    with pytest.raises(DomainError) as raised:
        redeem(*args)
    db.session.rollback()
    return raised.value


def test_points_earned_this_month_are_pending_and_refused_in_chinese(clock, village):
    shop, soap, clerk, household = counter(village)
    assert balance_and_pending(household) == (100, 100)
    refusal = refused(shop, soap, clerk, household)
    assert (refusal.code, refusal.status) == ("points_pending", 409)
    assert refusal.message == "可用积分只有 0 分（另有 100 分还在公示期，公示结束后才能用），这次需要 10 分"
    assert balance_of(household.id) == 100 and db.session.get(type(soap), soap.id).stock == 50


def test_last_months_points_stay_pending_while_its_publicity_is_on(clock, village):
    shop, soap, clerk, household = counter(village)
    for day in (date(2027, 3, 31), date(2027, 4, 1), date(2027, 4, 7)):  # March is over; its 公示 runs to 7 April
        clock.move_to(moment(day))
        assert refused(shop, soap, clerk, household).code == "points_pending"
    clock.move_to(moment(date(2027, 4, 8)))
    assert balance_and_pending(household) == (100, 0)
    assert redeem(shop, soap, clerk, household, 3).balance_after == 70
    assert_ledger_consistent(household.id)


def test_only_the_available_points_are_spent(clock, village):
    shop, soap, clerk, household = counter(village)
    earn(household, 30, date(2027, 1, 20))  # January's 公示 ended on 8 February
    earn(household, 25, date(2027, 2, 27))  # February's 公示 ended on 8 March
    db.session.commit()
    refusal = refused(shop, soap, clerk, household, 6)
    assert refusal.message == "可用积分只有 55 分（另有 100 分还在公示期，公示结束后才能用），这次需要 60 分"
    assert redeem(shop, soap, clerk, household, 5).balance_after == 105
    assert balance_and_pending(household) == (105, 100)
    assert refused(shop, soap, clerk, household).code == "points_pending"


def test_more_than_the_balance_is_refused_as_before(clock, village):
    shop, soap, clerk, household = counter(village)
    refusal = refused(shop, soap, clerk, household, 11)
    assert refusal.code == "insufficient_balance"


def test_a_void_gives_the_points_back_as_available(clock, village):
    shop, soap, clerk, household = counter(village)
    earn(household, 20, date(2027, 1, 20))
    db.session.commit()
    done = redeem(shop, soap, clerk, household, 2)
    db.session.commit()
    services.void(clerk, done.redemption, "拿错了")
    db.session.commit()
    assert balance_and_pending(household) == (120, 100)
    assert redeem(shop, soap, clerk, household, 2).balance_after == 100


def test_by_default_points_count_at_once(clock, village):
    shop, soap, clerk, household = counter(village, after_publicity=False)
    assert balance_and_pending(household) == (100, 0)
    assert redeem(shop, soap, clerk, household, 10).balance_after == 0


def balance_and_pending(household) -> tuple[int, int]:
    standing = standing_of(household)
    return standing.balance, standing.pending

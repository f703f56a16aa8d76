"""限制兑换 as the people concerned hear of it: setting, lifting and appealing a household's bar on redeeming (the
rules are ledger.bars'), each with its notice. The pages and the API both call these.

retry: the request may be a resent one (it carries an Idempotency-Key). A bar has no column for the key, so a retry is
told by what it asks: the same decision by the same account finds it made, answers it again and writes nothing."""
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..auth import policy
from ..auth.models import User
from ..extensions import db
from ..ledger import bars
from ..ledger.models import RedemptionBar
from ..messages.services import tell_household, tell_staff
from ..people.models import Household
from ..periods import full_day_label

KIND = "bar"
STATUSES = ("in_force", "upcoming", "ended", "lifted")


def link(found: RedemptionBar) -> str:
    return f"/bars/{found.id}"


def set_bar(admin: User, household: Household, starts_on: date, ends_on: date, reason: str,
            retry: bool = False) -> tuple[RedemptionBar, bool]:
    """限制兑换: bars.bar, and the household is told until when and why. Returns the bar and whether it is new (False:
    a retry found the same bar set by the same admin). Raises what bars.bar raises."""
    if retry:
        same = _same_bar(admin, household, starts_on, ends_on, reason)
        if same is not None:
            return same, False
    found = bars.bar(admin, household, starts_on, ends_on, reason)
    tell_household(household.id, KIND, _l("您家被限制兑换到 %(until)s：%(reason)s", until=full_day_label(found.ends_on),
                                           reason=found.reason), link(found), skip=admin)
    return found, True


def _same_bar(admin: User, household: Household, starts_on: date, ends_on: date, reason: str) -> RedemptionBar | None:
    """The latest bar this admin set on the household, if they set it just so and it still stands."""
    latest = db.session.scalar(select(RedemptionBar).where(
        RedemptionBar.household_id == household.id, RedemptionBar.actor_id == admin.id,
        RedemptionBar.entry_id.is_(None)).order_by(RedemptionBar.id.desc()).limit(1))
    if latest is None or latest.lifted_at is not None:
        return None
    asked = (admin.id, starts_on, ends_on, (reason or "").strip())
    return latest if (latest.actor_id, latest.starts_on, latest.ends_on, latest.reason) == asked else None


def lift_bar(admin: User, bar_id: int, note: str = "", retry: bool = False) -> RedemptionBar:
    """解除限制: bars.lift, and the household is told it may redeem again. Raises what bars.lift raises."""
    if retry:
        found = bars.visible_bar(admin, bar_id)
        if found.lifted_at is not None and (found.lifted_by_id, found.lift_note) == (admin.id, (note or "").strip()):
            return found
    found = bars.lift(admin, bar_id, note)
    tell_household(found.household_id, KIND, _l("您家的限制兑换已解除"), link(found), skip=admin)
    return found


def appeal_bar(user: User, bar_id: int, text: str, retry: bool = False) -> RedemptionBar:
    """申诉: bars.appeal, and the village's admins who decide appeals are told there is one (naming nobody: the
    notice may be read over a shoulder). Raises what bars.appeal raises."""
    if retry:
        found = db.session.get(RedemptionBar, bar_id) if isinstance(bar_id, int) else None
        if (found is not None and found.household_id == policy.own_household_id(user)
                and found.appealed_at is not None and found.appeal == (text or "").strip()):
            return found
    found = bars.appeal(user, bar_id, text)
    household = found.household
    tell_staff(household.village_id, KIND, _l("有一条限制兑换的申诉等您处理"), link(found), skip=user,
               permission=policy.Permission.DECIDE_APPEALS)
    return found

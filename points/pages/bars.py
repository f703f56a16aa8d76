"""限制兑换 pages: a household's bars with the admin's form to set one (confirmed first, naming the household and the
dates), a bar's page with its status, the household's 申诉 and the admin's 解除限制 (confirmed first)."""
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth import policy
from ..claims.bar_appeals import appeal_bar, lift_bar, set_bar
from ..errors import DomainError, Forbidden, NotFound, register_messages
from ..extensions import db
from ..ledger import bars
from ..ledger.models import RedemptionBar
from ..people.models import Household
from ..periods import full_day_label
from ..timeutil import local_today
from . import confirm, refused

bp = Blueprint("bars", __name__)
MANAGE = policy.Permission.MANAGE_POINTS

STATUS_LABELS = {"in_force": _l("生效中"), "upcoming": _l("未开始"), "ended": _l("已结束"), "lifted": _l("已解除")}


def _head(household: Household) -> str:
    return household.head.name if household.head else _("（未登记户主）")


def _parse_day(text: str | None) -> date:
    """A form's YYYY-MM-DD. Raises DomainError("bar_dates_required")."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise DomainError("bar_dates_required") from None


def _bars_page(household: Household, form: dict | None = None, error: str | None = None, status: int = 200):
    today = local_today()
    found = bars.bars_of(household.id)
    return render_template("bars/household.html", household=household, bars=found,
                           statuses={b.id: b.status_on(today) for b in found}, labels=STATUS_LABELS,
                           may_set=bars.may_bar(current_user, household), form=form or {"starts_on": today.isoformat()},
                           error=error), status


@bp.get("/households/<id:household_id>/bars")
@login_required
def household_bars(household_id: int):
    """限制兑换 of a household: its bars, newest first, and for its admins the form to set one."""
    return _bars_page(policy.visible_household(current_user, household_id))


@bp.post("/households/<id:household_id>/bars")
@login_required
def new_bar(household_id: int):
    """限制兑换: the admin's form, then a confirmation naming the household, its head and the dates, then done."""
    household = policy.visible_household(current_user, household_id)
    form = {name: (request.form.get(name) or "").strip() for name in ("starts_on", "ends_on", "reason")}
    try:
        starts_on, ends_on = _parse_day(form["starts_on"]), _parse_day(form["ends_on"])
        earlier = bars.current_bar(household.id)
        found, _new = set_bar(current_user, household, starts_on, ends_on, form["reason"])
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        db.session.rollback()
        return _bars_page(household, form, refusal.message, refusal.status if refusal.status == 403 else 422)
    if not confirm.confirmed():
        return _confirm_bar(household, found, earlier)
    flash(_("已限制户号 %(number)s 兑换到 %(until)s", number=household.number, until=full_day_label(found.ends_on)))
    return redirect(url_for("bars.bar_page", bar_id=found.id))


def _confirm_bar(household: Household, found: RedemptionBar, earlier: RedemptionBar | None):
    what = _("户号 %(number)s（户主 %(head)s）从 %(start)s 到 %(end)s（共 %(days)d 天）不能在积分超市兑换。",
             number=household.number, head=_head(household), start=full_day_label(found.starts_on),
             end=full_day_label(found.ends_on), days=(found.ends_on - found.starts_on).days + 1)
    details = [_("原因：%(reason)s", reason=found.reason),
               _("这户的村民会收到消息，看到原因和结束日期，可以申诉。"),
               _("兑换台和小程序兑换时都会拒绝，并说明原因和结束日期。")]
    warning = _("这户已有一项限制（到 %(end)s），两项限制都会生效；要缩短请解除原来那项。",
                end=full_day_label(earlier.ends_on)) if earlier is not None else ""
    return confirm.ask(_("确认限制兑换"), what, button=_("确认限制兑换"), details=details, warning=warning,
                       back=url_for("bars.household_bars", household_id=household.id))


def _bar_page(found: RedemptionBar, status: int = 200):
    today = local_today()
    state = found.status_on(today)
    household = found.household
    own = household.id == policy.own_household_id(current_user)
    return render_template(
        "bars/bar.html", bar=found, household=household, status=state, labels=STATUS_LABELS,
        own=own, may_appeal=own and state in ("in_force", "upcoming") and found.appealed_at is None,
        may_lift=not own and state in ("in_force", "upcoming") and policy.can(current_user, MANAGE, household.grid_id),
    ), status


@bp.get("/bars/<id:bar_id>")
@login_required
def bar_page(bar_id: int):
    """A bar: its reason, dates and status (生效中/未开始/已结束/已解除), the household's appeal; 申诉 for the household
    while it stands, 解除限制 for its admins."""
    return _bar_page(bars.visible_bar(current_user, bar_id))


@bp.post("/bars/<id:bar_id>/lift")
@login_required
def lift(bar_id: int):
    """解除限制, confirmed first: the household may redeem again from now."""
    found = bars.visible_bar(current_user, bar_id)
    note = (request.form.get("note") or "").strip()
    try:
        lift_bar(current_user, found.id, note)
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        refused(refusal)
        return redirect(url_for("bars.bar_page", bar_id=bar_id))
    if not confirm.confirmed():
        household = found.household
        what = _("解除户号 %(number)s（户主 %(head)s）的限制兑换：原定到 %(end)s，解除后今天起就能兑换。",
                 number=household.number, head=_head(household), end=full_day_label(found.ends_on))
        return confirm.ask(_("确认解除限制"), what, button=_("确认解除限制"),
                           details=[_("这户的村民会收到消息。")], back=url_for("bars.bar_page", bar_id=bar_id))
    flash(_("限制已解除"))
    return redirect(url_for("bars.bar_page", bar_id=bar_id))


@bp.post("/bars/<id:bar_id>/appeal")
@login_required
def appeal(bar_id: int):
    """申诉: the household's villager writes why the bar is wrong; the village's admins are told."""
    found = bars.visible_bar(current_user, bar_id)
    try:
        appeal_bar(current_user, found.id, request.form.get("text", ""))
    except (Forbidden, NotFound):
        raise
    except DomainError as refusal:
        refused(refusal)
        return redirect(url_for("bars.bar_page", bar_id=bar_id))
    flash(_("申诉已提交，村里处理后会告诉您"))
    return redirect(url_for("bars.bar_page", bar_id=bar_id))


register_messages({
    "bar_dates_required": _l("请填写开始日期和结束日期，例如 2027-01-31"),
})

"""Points pages: 我的积分, a household's entries, manual award and penalty, the batch form, and 冲正."""
from typing import NamedTuple

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..auth import policy
from ..claims.queries import appealed_entry_ids
from ..errors import MESSAGES, DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..hygiene.queries import household_flags
from ..ledger import services
from ..ledger.models import SOURCE_LABELS, EntrySource, LedgerEntry
from ..ledger.queries import (
    award_sides,
    household_entries,
    household_place,
    rules_actor_may_apply,
    undone_entries,
)
from ..ledger.standing import standing_of
from ..limits import MAX_ID
from ..people.models import Household
from ..people.privacy import mask_name
from ..periods import PeriodKind, period_of
from ..rules.labels import rule_choices
from ..rules.queries import rule_book
from ..timeutil import local_today
from . import confirm
from .forms import fresh_key, refusal_message
from .forms.ledger import AwardForm, BatchAwardForm, ReverseForm

bp = Blueprint("ledger", __name__)
SIDES = ("award", "deduct")


def _web_key(form_key: str) -> str:
    """The ledger key of a posting from a form: the user and the key the form was rendered with."""
    return f"web:{current_user.id}:{form_key}"


class EntryWords(NamedTuple):
    """An entry as its line in the list reads: what it is, and where it came from."""

    title: str
    source: str


def entry_words(entry: LedgerEntry, undone: LedgerEntry | None, own: bool) -> EntryWords:
    """A reversal says what it undid, in the household's words: 兑换作废，退回积分 for a voided redemption, 撤销扣分 or
    撤销加分 and the rule for the rest. Staff read their word 冲正 as its source; the household reads where the
    points first came from."""
    if entry.reverses_id is None or undone is None:
        title = entry.rule_version.name if entry.rule_version else str(SOURCE_LABELS[entry.source])
        return EntryWords(title, str(SOURCE_LABELS[entry.source]))
    source = str(SOURCE_LABELS[undone.source] if own else SOURCE_LABELS[entry.source])
    if undone.source is EntrySource.REDEMPTION:
        return EntryWords(_("兑换作废，退回积分"), source)
    if undone.source is EntrySource.EXPIRY:
        return EntryWords(_("撤销清零，退回积分"), source)
    what = undone.rule_version.name if undone.rule_version else str(SOURCE_LABELS[undone.source])
    if undone.amount < 0:
        return EntryWords(_("撤销扣分：%(what)s", what=what), source)
    return EntryWords(_("撤销加分：%(what)s", what=what), source)


def _points_page(household: Household):
    """A household's balance, its place in its grid this month, and its entries (newest first)."""
    today = local_today()
    page = household_entries(household.id, request.args.get("page", 1, type=int), current_app.config["PER_PAGE"])
    own = household.id == policy.own_household_id(current_user)
    undone = undone_entries(page.items)
    appealed = appealed_entry_ids([e.id for e in page.items]) if own else set()
    reverse_form = ReverseForm(formdata=None) if policy.may_reverse_entries(current_user, household) else None
    standing = standing_of(household, expiry=True)  # in place of the balance's query: 待公示, a bar, a 清零 coming
    return render_template(
        "ledger/points.html",
        household=household,
        standing=standing,
        balance=standing.balance,
        place=household_place(household, household.grid, period_of(PeriodKind.MONTH, today)),
        page=page,
        own=own,
        appealed=appealed,
        reverse_form=reverse_form,
        words={e.id: entry_words(e, undone.get(e.id), own) for e in page.items},
        sides=award_sides(current_user, household, today),
        flags=household_flags(household.id),
    )


@bp.get("/my/points")
@login_required
def my_points():
    household_id = policy.own_household_id(current_user)
    if household_id is None:
        return redirect(url_for("auth.me"))
    return _points_page(db.session.get(Household, household_id))


@bp.get("/households/<id:household_id>/points")
@login_required
def household_points(household_id: int):
    return _points_page(policy.visible_household(current_user, household_id))


@bp.route("/households/<id:household_id>/award", methods=["GET", "POST"])
@login_required
def award(household_id: int):
    """加分或扣分 for one household, under a rule the user's role may apply."""
    household = policy.visible_household(current_user, household_id)
    versions = rules_actor_may_apply(current_user, household, local_today())
    if not versions:
        raise Forbidden()
    form = AwardForm()
    form.rule_id.choices = rule_choices(_on_side(versions, request.args.get("side")))
    form.resident_id.choices = [SelectChoice(0, _("不指定"))] + [
        SelectChoice(r.id, r.name) for r in household.residents]
    status = 200
    if form.validate_on_submit():
        try:
            entry = services.apply_rule(
                current_user, household.id, form.rule_id.data, _web_key(form.key.data),
                quantity=form.quantity.data, resident_id=form.resident_id.data or None,
                note=(form.note.data or "").strip(), occurred_on=form.occurred_on.data,
            )
        except DomainError as refusal:
            db.session.rollback()
            form.rule_id.errors.append(refusal_message(refusal, form))
            status = 422
        else:
            if entry.amount < 0 and not confirm.confirmed():  # 扣分 is confirmed first, naming what it takes
                what = _("将给户号 %(number)s（%(head)s）扣 %(points)d 分：%(rule)s", number=household.number,
                         head=_head_name(household), points=-entry.amount, rule=entry.rule_version.name)
                return confirm.ask(_("确认扣分"), what, button=_("确认扣分"),
                                   back=url_for("ledger.household_points", household_id=household.id),
                                   details=[_("扣分会出现在该户的积分记录里，村民可以申诉。")])
            flash(_("已记 %(amount)+d 分", amount=entry.amount))
            return redirect(url_for("ledger.household_points", household_id=household.id))
    elif request.method == "POST":
        status = 422
        if form.key.errors:  # a page from before its key was set (or a forged one): the next try may post
            fresh_key(form)
    else:
        form.occurred_on.data = local_today()
        fresh_key(form)
    return render_template("ledger/award.html", form=form, household=household), status


def _on_side(versions: list, side: str | None) -> list:
    """The rules of one side for the 加分 (?side=award) and 扣分 (?side=deduct) buttons; all of them for the page
    without a side, or when that side has none."""
    if side not in SIDES:
        return versions
    return [v for v in versions if (v.points > 0) == (side == "award")] or versions


def _award_grids() -> list[GridNode]:
    """The grids whose households the user sees as staff: the batch form picks households among them."""
    return policy.nodes_in_scope(current_user, policy.Permission.VIEW_HOUSEHOLDS, NodeKind.GRID)


@bp.route("/award", methods=["GET", "POST"])
@login_required
def batch_award():
    """批量加分: one rule to many households of a village at once (everyone at a meeting)."""
    all_grids = _award_grids()
    villages = [db.session.get(GridNode, v) for v in dict.fromkeys(g.village_id for g in all_grids)]
    if not villages:
        raise Forbidden()
    village = next((v for v in villages if v.id == request.args.get("village", type=int)), villages[0])
    roles = policy.roles_touching(current_user, village.id)
    versions = [v for v in rule_book(village.id, local_today()) if v.role_set & roles]
    grids = [g for g in all_grids if g.village_id == village.id]
    grid_id = request.args.get("grid", type=int)
    shown = [g for g in grids if g.id == grid_id] or grids
    households = db.session.scalars(
        select(Household).where(Household.grid_id.in_([g.id for g in shown]), Household.closed_on.is_(None))
        .options(selectinload(Household.head)).order_by(Household.grid_id, Household.number)
    ).all()
    form = BatchAwardForm()
    form.rule_id.choices = rule_choices(versions)
    status, refused = 200, []
    if form.validate_on_submit():
        try:
            entries = services.apply_rule_to_many(
                current_user, [i for i in form.household_ids.data if 1 <= i <= MAX_ID], form.rule_id.data,
                _web_key(form.key.data),
                quantity=form.quantity.data, note=(form.note.data or "").strip(), occurred_on=form.occurred_on.data,
            )
        except DomainError as refusal:
            db.session.rollback()
            form.rule_id.errors.append(refusal_message(refusal, form))
            refused = refusal.details if refusal.code != "idempotency_key_reused" else []
            status = 422
        else:
            if not confirm.confirmed():
                return _batch_confirmation(entries, village, grid_id)
            flash(_("已为 %(n)d 户记分", n=len(entries)))
            return redirect(url_for("ledger.batch_award", village=village.id, grid=grid_id or ""))
    elif request.method == "POST":
        status = 422
        if form.key.errors:  # a page from before its key was set (or a forged one): the next try may post
            fresh_key(form)
    else:
        form.occurred_on.data = local_today()
        fresh_key(form)
    chosen = set(form.household_ids.data or [])
    numbers = {h.id: h.number for h in households}
    return render_template(
        "ledger/batch.html", form=form, village=village, villages=villages, grids=grids, grid_id=grid_id,
        households=households, chosen=chosen,
        refused=[(numbers.get(r["household_id"], f"#{r['household_id']}"), r["message"]) for r in refused],
    ), status


def _head_name(household: Household) -> str:
    return mask_name(household.head.name) if household.head else "—"


def _batch_confirmation(entries: list[LedgerEntry], village: GridNode, grid_id: int | None):
    """The confirmation of a batch the service has just done (and the caller rolls back): how many households, how
    many points each and in all, under which rule, and which households."""
    amount = entries[0].amount
    numbers = dict(db.session.execute(
        select(Household.id, Household.number).where(Household.id.in_([e.household_id for e in entries]))).all())
    what = _("将为 %(n)d 户各记 %(amount)+d 分，共 %(total)+d 分", n=len(entries), amount=amount,
             total=sum(e.amount for e in entries))
    details = [_("细则：%(rule)s", rule=entries[0].rule_version.name),
               _("户号：%(numbers)s", numbers="、".join(numbers.get(e.household_id, "") for e in entries))]
    return confirm.ask(_("确认批量记分"), what, button=_("确认记分（%(n)d 户）", n=len(entries)),
                       back=url_for("ledger.batch_award", village=village.id, grid=grid_id or ""), details=details)


@bp.post("/entries/<id:entry_id>/reverse")
@login_required
def reverse(entry_id: int):
    """冲正 an entry: a new entry of the opposite amount, pointing at it."""
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound()
    household = policy.visible_household(current_user, entry.household_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(errors[0], "error")
        return redirect(url_for("ledger.household_points", household_id=household.id))
    try:
        # One key per entry: an entry is reversed once, so a resent or second form can never reverse another one.
        services.reverse_by_admin(current_user, entry.id, f"reverse:{entry.id}", form.note.data.strip())
    except (Forbidden, NotFound):
        raise  # answered by the error page: not theirs to reverse
    except DomainError as refusal:
        db.session.rollback()
        # The entry's key with another note: another form (another admin's) reversed it first.
        reversed_first = refusal.code == "idempotency_key_reused"
        flash(str(MESSAGES["already_reversed"]) if reversed_first else refusal.message, "error")
    else:
        flash(_("已冲正"))
    return redirect(url_for("ledger.household_points", household_id=household.id))

"""Pages of 每周卫生评比: the week (assignment, progress, results), the score sheet on a phone, publishing, the
month and its 流动红旗, a household's history, the village's settings and checklist, and the .xlsx exports."""
import io
import uuid
from datetime import timedelta
from typing import NamedTuple

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..auth import policy
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..hygiene import inspection, monthly, publishing, queries, village_settings
from ..hygiene.models import OUTCOME_LABELS, TIE_LABELS, UNSCORED_LABELS, InspectionRound, Outcome, Score
from ..hygiene.workbook import month_workbook, week_workbook
from ..media import clean_photo, store_photo
from ..people.models import Household
from ..people.privacy import mask_name
from ..periods import day_label, month_label, month_of_week, next_month, parse_month, parse_week, week_label, week_of
from ..rules.models import Rule
from ..rules.queries import version_in_force
from ..timeutil import local_today
from ..xlsx import XLSX
from . import confirm
from .forms.hygiene import SettingsForm

bp = Blueprint("hygiene", __name__)


class GridRights(NamedTuple):
    """What the user may do with one grid of the week's round, for its buttons."""

    score: bool
    publish: bool


MANAGE = policy.Permission.MANAGE_HYGIENE


@bp.context_processor
def _template_helpers() -> dict:
    return dict(timedelta=timedelta, month_of=month_of_week, uuid4=lambda: uuid.uuid4().hex,
                steps=deduction_steps)


def deduction_steps(most: int) -> list[int]:
    """The choices on the sheet for an item: 0 and up to five steps to its maximum (one tap each)."""
    return sorted({round(most * i / 5) for i in range(6)})


@bp.get("/hygiene")
@login_required
def start():
    """评比: the week page of the user's village (the first of them, for staff of several)."""
    own = policy.own_household_id(current_user)
    if own is not None:
        return redirect(url_for("hygiene.week", village_id=db.session.get(Household, own).village_id))
    villages = [n for n in policy.nodes_in_scope(current_user, policy.Permission.VIEW_GRIDS)
                if n.kind is NodeKind.VILLAGE or n.kind is NodeKind.GRID]
    village_ids = list(dict.fromkeys(n.id if n.kind is NodeKind.VILLAGE else n.village_id for n in villages))
    if not village_ids:
        raise Forbidden()
    return redirect(url_for("hygiene.week", village_id=village_ids[0]))


@bp.get("/villages/<id:village_id>/hygiene")
@login_required
def week(village_id: int):
    village = policy.visible_village(current_user, village_id)
    today = local_today()
    try:
        monday = parse_week(request.args.get("week") or week_of(today))
    except DomainError:
        monday = parse_week(week_of(today))
    week_name = week_of(monday)
    round_ = inspection.round_for(village, week_name, create=False)
    grids = queries.week_results(round_) if round_ else []
    preview = None
    if round_ is None:
        holders = inspection.inspected_grids(village.id)
        names = {g.id: g for g in holders}
        preview = [(names[g], names.get(i)) for g, i in inspection.rotation([g.id for g in holders], monday).items()]
    may = {g.grid.id: GridRights(inspection.may_score(current_user, round_, g.grid.id),
                                 policy.can_publish(current_user, village.id, g.inspector.id if g.inspector else None))
           for g in grids}
    settings = village_settings.settings_of(village.id)
    return render_template(
        "hygiene/week.html", village=village, week=week_name, monday=monday, round=round_, grids=grids,
        preview=preview, may=may, settings=settings,
        week_over=round_ is not None and publishing.week_over(round_),
        incomplete=[g for g in grids if 0 < g.scored < g.households],
        shame_rule=publishing.shame_rule(settings),
        manager=policy.can(current_user, MANAGE, village.id),
        may_start=round_ is None and monday <= today and inspection.may_open_round(current_user, village.id),
        previous=week_of(monday - timedelta(days=7)),
        following=week_of(monday + timedelta(days=7)) if monday + timedelta(days=7) <= today else None,
        publications=queries.publications(village.id, "W" + week_name),
        TIE_LABELS=TIE_LABELS, UNSCORED_LABELS=UNSCORED_LABELS, OUTCOME_LABELS=OUTCOME_LABELS,
    )


@bp.post("/villages/<id:village_id>/hygiene/rounds")
@login_required
def open_round(village_id: int):
    village = policy.visible_village(current_user, village_id)
    if not inspection.may_open_round(current_user, village.id):
        raise Forbidden()
    round_ = inspection.round_for(village, request.form.get("week", ""))
    return redirect(url_for("hygiene.week", village_id=village.id, week=round_.week))


@bp.get("/hygiene/rounds/<id:round_id>/grids/<id:grid_id>")
@login_required
def sheet_list(round_id: int, grid_id: int):
    """The inspector's list of a grid's households: progress, and each household's sheet."""
    round_ = queries.visible_round(current_user, round_id)
    assignment = inspection.assignment_of(round_, grid_id)
    inspection.require_score(current_user, round_, grid_id)
    rows = queries.sheet_rows(round_.id, grid_id)
    done = sum(1 for row in rows if row.score is not None)
    return render_template(
        "hygiene/sheets.html", round=round_, assignment=assignment, rows=rows, done=done,
        next_id=queries.next_unscored(round_.id, grid_id),
        may_publish=policy.can_publish(current_user, round_.village_id, assignment.inspector_grid_id),
        early=done < len(rows) and not publishing.week_over(round_),
        manager=policy.can(current_user, MANAGE, round_.village_id),
    )


@bp.route("/hygiene/rounds/<id:round_id>/households/<id:household_id>", methods=["GET", "POST"])
@login_required
def sheet(round_id: int, household_id: int):
    """One household's score sheet: a tap per item, a note and a photo, and a bar kept on screen to save it (or to
    save it with nothing deducted, clean=1, in one tap); saved, the next unscored household of the grid opens."""
    round_ = queries.visible_round(current_user, round_id)
    household = db.session.get(Household, household_id)
    if household is None or household.village_id != round_.village_id:
        raise NotFound()
    score = db.session.scalar(select(Score).where(Score.round_id == round_.id, Score.household_id == household.id))
    grid_id = score.grid_id if score is not None else household.grid_id
    inspection.require_score(current_user, round_, grid_id)
    items = village_settings.checklist(round_.village_id)
    error, status, chosen = None, 200, {}
    if request.method == "POST":
        clean = request.form.get("clean") == "1"
        chosen = {item.id: 0 if clean else request.form.get(f"item-{item.id}", 0, type=int) for item in items}
        try:
            photo = _photo(request.files.get("photo"))
            saved = inspection.save_score(
                current_user, round_, household.id, chosen, note=request.form.get("note", "").replace("\x00", ""),
                revision=request.form.get("revision", 0, type=int), photo=photo,
            )
        except DomainError as refusal:
            db.session.rollback()
            error, status = refusal.message, refusal.status if refusal.status != 400 else 422
            score = db.session.scalar(select(Score).where(Score.round_id == round_.id,
                                                          Score.household_id == household.id))
        else:
            flash(_("已保存 %(number)s 户：扣 %(points)d 分", number=household.number, points=saved.deductions))
            return _after_saving(round_, grid_id, household)
    if score is not None and not chosen:
        chosen = {line.item_id: line.points for line in score.items}
    rows = queries.sheet_rows(round_.id, grid_id)
    following = queries.next_unscored(round_.id, grid_id, after=household.number)
    return render_template(
        "hygiene/sheet.html", round=round_, household=household, score=score, items=items, chosen=chosen,
        error=error, done=sum(1 for row in rows if row.score is not None), total=len(rows),
        head=household.head.name if household.head else "", grid=db.session.get(GridNode, grid_id),
        skip_to=following if following != household.id else None,
    ), status


def _after_saving(round_: InspectionRound, grid_id: int, household: Household):
    """On to the grid's next unscored household after the one just saved, or back to the grid's list when none is
    left."""
    following = queries.next_unscored(round_.id, grid_id, after=household.number)
    if following is None:
        return redirect(url_for("hygiene.sheet_list", round_id=round_.id, grid_id=grid_id))
    return redirect(url_for("hygiene.sheet", round_id=round_.id, household_id=following))


def _photo(upload) -> str | None:
    if upload is None or not upload.filename:
        return None
    jpeg = clean_photo(upload.read(), current_app.config["PHOTO_MAX_BYTES"])
    return store_photo(current_app.config["UPLOAD_FOLDER"], jpeg).filename


@bp.get("/hygiene/scores/<id:score_id>/photo")
@login_required
def photo(score_id: int):
    score = db.session.get(Score, score_id)
    if score is None or score.photo is None:
        raise NotFound()
    round_ = db.session.get(InspectionRound, score.round_id)
    if not (inspection.may_score(current_user, round_, score.grid_id)
            or policy.can_view_household(current_user, score.household)):
        raise Forbidden()
    response = send_file(f"{current_app.config['UPLOAD_FOLDER']}/{score.photo}", mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.post("/hygiene/rounds/<id:round_id>/publish")
@login_required
def publish(round_id: int):
    """Publish a grid or all grids: refused before the week is over unless all are scored or the admin chose 提前发布
    (early=1); then a confirmation naming who becomes 示范户 and who is listed for 晾晒, with the points."""
    round_ = queries.visible_round(current_user, round_id)
    grid_id = request.form.get("grid_id", type=int)
    early = request.form.get("early") == "1"
    back = url_for("hygiene.week", village_id=round_.village_id, week=round_.week)
    try:
        publication = publishing.publish_round(current_user, round_, grid_id, client_key=_form_key(), early=early)
    except DomainError as refusal:
        db.session.rollback()
        if refusal.code not in ("week_not_over", "early_admin_only"):
            raise
        flash(refusal.message, "error")
        return redirect(back)
    if not confirm.confirmed():
        title, what, details, warning = _publish_preview(round_, grid_id, publication, early)
        db.session.rollback()
        button = _("确认提前发布") if warning else _("确认发布")
        return confirm.ask(title, what, button=button, back=back, details=details, warning=warning)
    flash(_("已发布：记分 %(posted)d 笔，更正冲回 %(reversed)d 笔", posted=publication.posted,
            reversed=publication.reversed))
    return redirect(back)


def _points(amounts: list[int], households: int) -> str:
    """各 +20 分 when every household listed got the same (（+20 分） for one); 其中 N 户共 ±X 分 otherwise; nothing
    without points."""
    if not amounts:
        return ""
    if len(amounts) == households and len(set(amounts)) == 1:
        if households == 1:
            return _("（%(points)+d 分）", points=amounts[0])
        return _("各 %(points)+d 分", points=amounts[0])
    return _("（其中 %(n)d 户共 %(points)+d 分）", n=len(amounts), points=sum(amounts))


def _publish_preview(round_: InspectionRound, grid_id: int | None, publication, early: bool):
    """What the publication just made (not yet committed) will show and post, grid by grid."""
    week = week_label(round_.monday)
    amounts = queries.posted_amounts(round_.village_id, "W" + round_.week)
    lines, unscored = [], {}
    for g in queries.week_results(round_):
        if grid_id not in (None, g.grid.id):
            continue
        if not g.lines:
            lines.append((g.grid.name, _("还没有评分，这次不发布")))
            continue
        parts = [_("%(n)d 户评为示范户", n=len(g.models)) + _points(amounts.get((g.grid.id, Outcome.MODEL), []),
                                                                   len(g.models))]
        if g.shamed:
            parts.append(_("%(n)d 户晾晒", n=len(g.shamed)) + _points(amounts.get((g.grid.id, Outcome.SHAME), []),
                                                                     len(g.shamed)))
        if g.unscored:
            parts.append(_("另有 %(n)d 户未评分", n=len(g.unscored)))
            unscored[g.grid.name] = len(g.unscored)
        lines.append((g.grid.name, _("，").join(parts)))
    if grid_id is not None:
        what = _("发布%(week)s%(grid)s的评比：%(what)s", week=week, grid=lines[0][0], what=lines[0][1])
        details = []
    else:
        what = _("发布%(week)s全部网格的评比：", week=week)
        details = [_("%(grid)s：%(what)s", grid=name, what=text) for name, text in lines]
    details += _again(queries.publications(round_.village_id, "W" + round_.week))
    warning = ""
    if early and unscored and not publishing.week_over(round_):
        warning = _("提前发布：本周还没结束（%(end)s结束），%(unscored)s。这些户%(rule)s。", end=day_label(
            round_.monday + timedelta(days=6)), unscored=publishing.unscored_text(unscored),
            rule=UNSCORED_LABELS[village_settings.settings_of(round_.village_id).unscored])
    return _("发布评比结果"), what, details, warning


def _again(publications: list) -> list[str]:
    """For a publication after an earlier one of the period: what this one changes (entries already posted stand)."""
    if len(publications) < 2:
        return []
    latest = publications[-1]
    return [_("此前已发布过，已记的积分不会重复记：这次新记 %(posted)d 笔，更正冲回 %(reversed)d 笔",
              posted=latest.posted, reversed=latest.reversed)]


def _form_key() -> str | None:
    """The one-time key a publish form carries, so that a double tap publishes once."""
    key = request.form.get("key", "").replace("\x00", "")[:64]
    return f"web:{key}" if key else None


@bp.route("/hygiene/rounds/<id:round_id>/assignment", methods=["GET", "POST"])
@login_required
def assignment(round_id: int):
    """The village admin overrides this week's cross-inspection."""
    round_ = queries.visible_round(current_user, round_id)
    policy.require(current_user, MANAGE, round_.village_id)
    grids = inspection.inspected_grids(round_.village_id)
    error, status = None, 200
    if request.method == "POST":
        chosen = {a.grid_id: request.form.get(f"grid-{a.grid_id}", type=int) or None for a in round_.assignments}
        try:
            inspection.reassign(current_user, round_, chosen)
        except DomainError as refusal:
            db.session.rollback()
            error, status = refusal.message, 422
        else:
            flash(_("交叉检查安排已保存"))
            return redirect(url_for("hygiene.week", village_id=round_.village_id, week=round_.week))
    return render_template("hygiene/assignment.html", round=round_, grids=grids, error=error), status


@bp.route("/villages/<id:village_id>/hygiene/settings", methods=["GET", "POST"])
@login_required
def settings(village_id: int):
    """The village admin's numbers (示范户, 晾晒, ties, unscored households, 流动红旗) and checklist."""
    village = policy.village_or_template(current_user, village_id, MANAGE)
    policy.require(current_user, MANAGE, village.id)
    current = village_settings.settings_of(village.id)
    form = SettingsForm(obj=current)
    penalties = [r for r in db.session.scalars(select(Rule).where(Rule.village_id == village.id).order_by(Rule.code))
                 if (v := version_in_force(r.id, local_today())) is not None and v.points < 0]
    form.penalty_rule_id.choices = [(0, _("不扣分，只公布"))] + [
        (r.id, f"{r.code} {version_in_force(r.id, local_today()).name}"
               f"（{version_in_force(r.id, local_today()).points}）")
        for r in penalties]
    items = village_settings.checklist(village.id)
    error, status = None, 200
    if form.validate_on_submit():
        lines = []
        for index in range(village_settings.MAX_ITEMS):
            name = (request.form.get(f"name-{index}") or "").replace("\x00", "").strip()
            if not name:
                continue
            lines.append((request.form.get(f"id-{index}", type=int), name,
                          request.form.get(f"max-{index}", 0, type=int)))
        try:
            village_settings.save_checklist(current_user, village, lines, full_score=form.full_score.data)
            village_settings.update_settings(
                current_user, village, full_score=form.full_score.data, model_count=form.model_count.data,
                model_points=form.model_points.data, shame_count=form.shame_count.data,
                shame_ties=form.shame_ties.data, shame_max=form.shame_max.data,
                flag_points=form.flag_points.data, ties=form.ties.data, unscored=form.unscored.data,
                penalty_rule_id=form.penalty_rule_id.data or None,
            )
        except DomainError as refusal:
            db.session.rollback()
            error, status = refusal.message, 422
        else:
            flash(_("评比设置已保存"))
            if village.kind is NodeKind.TOWN:  # the template: no week of its own
                return redirect(url_for("hygiene.settings", village_id=village.id))
            return redirect(url_for("hygiene.week", village_id=village.id))
        items = village_settings.checklist(village.id)
    elif request.method == "POST":
        status = 422
    return render_template("hygiene/settings.html", village=village, form=form, items=items, error=error,
                           slots=village_settings.MAX_ITEMS), status


@bp.get("/villages/<id:village_id>/hygiene/months/<month>")
@login_required
def month(village_id: int, month: str):
    village = policy.visible_village(current_user, village_id)
    first, _last = parse_month(month)
    month = f"{first.year}-{first.month:02d}"
    summary = queries.summary_of(village.id, month)
    rounds = list(db.session.scalars(select(InspectionRound).where(
        InspectionRound.village_id == village.id, InspectionRound.month == month).order_by(InspectionRound.monday)))
    previous = (first - timedelta(days=1)).strftime("%Y-%m")
    following = next_month(first)
    return render_template(
        "hygiene/month.html", village=village, month=month, summary=summary, rounds=rounds,
        refusal=monthly.month_refusal(village.id, month),
        grids=queries.month_results(summary) if summary else [], settings=village_settings.settings_of(village.id),
        manager=policy.can(current_user, MANAGE, village.id) and first <= local_today(),
        previous=previous, following=following.strftime("%Y-%m") if following <= local_today() else None,
        publications=queries.publications(village.id, "M" + month), TIE_LABELS=TIE_LABELS,
    )


@bp.post("/villages/<id:village_id>/hygiene/months/<month>/publish")
@login_required
def publish_month(village_id: int, month: str):
    """Publish the month's summary, after a confirmation naming who gets the 流动红旗 and its points."""
    village = policy.visible_village(current_user, village_id)
    summary = monthly.publish_month(current_user, village, month, client_key=_form_key())
    if not confirm.confirmed():
        amounts = queries.posted_amounts(village.id, "M" + summary.month)
        grids = [g for g in queries.month_results(summary) if g.holders]
        details = [_("%(grid)s：%(who)s，总分 %(total)d，获流动红旗%(points)s", grid=g.grid.name,
                     who=_("、").join(f"{line.number} {mask_name(line.head_name)}" for line in g.holders),
                     total=g.holders[0].value, points=_points(amounts.get((g.grid.id, Outcome.FLAG), []),
                                                              len(g.holders)))
                   for g in grids]
        what = _("发布%(month)s汇总：%(n)d 户获流动红旗，共 %(points)+d 分", month=month_label(summary.month),
                 n=sum(len(g.holders) for g in grids),
                 points=sum(sum(v) for (_grid, outcome), v in amounts.items() if outcome is Outcome.FLAG))
        details += _again(queries.publications(village.id, "M" + summary.month))
        back = url_for("hygiene.month", village_id=village.id, month=summary.month)
        return confirm.ask(_("发布本月汇总"), what, button=_("确认发布"), back=back, details=details)
    flash(_("%(month)s汇总已发布", month=month_label(summary.month)))
    return redirect(url_for("hygiene.month", village_id=village.id, month=summary.month))


@bp.get("/households/<id:household_id>/inspections")
@login_required
def history(household_id: int):
    household = policy.visible_household(current_user, household_id)
    return render_template("hygiene/history.html", household=household,
                           weeks=queries.household_history(household.id),
                           flags=queries.household_flags(household.id), OUTCOME_LABELS=OUTCOME_LABELS)


@bp.get("/hygiene/rounds/<id:round_id>.xlsx")
@login_required
def export_week(round_id: int):
    round_ = queries.visible_round(current_user, round_id)
    village = db.session.get(GridNode, round_.village_id)
    return send_file(io.BytesIO(week_workbook(round_, queries.week_results(round_))), mimetype=XLSX,
                     as_attachment=True, download_name=_("卫生评比-%(village)s-%(week)s.xlsx", village=village.name,
                                                         week=week_label(round_.monday, year=True)))


@bp.get("/villages/<id:village_id>/hygiene/months/<month>.xlsx")
@login_required
def export_month(village_id: int, month: str):
    village = policy.visible_village(current_user, village_id)
    summary = queries.summary_of(village.id, month)
    if summary is None:
        raise NotFound()
    return send_file(io.BytesIO(month_workbook(summary, queries.month_results(summary))), mimetype=XLSX,
                     as_attachment=True, download_name=_("卫生评比月汇总-%(village)s-%(month)s.xlsx",
                                                         village=village.name, month=summary.month))


"""Pages of claims (积分申报: submit, list, review, photos) and appeals (申诉: submit, list, decide)."""
import re
import uuid
from functools import partial

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from .. import media
from ..auth import policy
from ..claims import services
from ..claims.models import AppealStatus, ClaimStatus
from ..claims.queries import appeals_in_scope, claimable_rules, claims_in_scope, household_appeals, household_claims
from ..errors import DomainError, NotFound, error_response
from ..extensions import db
from ..ledger.models import SOURCE_LABELS, LedgerEntry
from ..people.models import Household
from ..periods import day_label
from ..rules.labels import rule_choices
from ..timeutil import local_today
from . import confirm, refused
from .forms import fresh_key, refusal_message
from .forms.claims import AppealForm, ClaimForm, DecisionForm, RejectForm, fields_before_files

bp = Blueprint("claims", __name__)
PHOTO_ERRORS = {"photo_required", "too_many_photos", "photo_too_large", "not_an_image"}
KEY = re.compile("[0-9a-f]{32}")
_REQUEST = object()  # _claim_form's default: the form as the request sent it


def _claim_form(household: Household, formdata=_REQUEST) -> ClaimForm:
    """The claim form, with what the request sent (or formdata, when given: None for an empty form)."""
    form = ClaimForm() if formdata is _REQUEST else ClaimForm(formdata=formdata)
    form.rule_id.choices = rule_choices(claimable_rules(household, local_today()), mention_evidence=True)
    return form


def _photo_store() -> services.PhotoStore:
    return services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])


@bp.route("/claims/new", methods=["GET", "POST"])
@login_required
def new_claim():
    household = services.villager_household(current_user)
    form = _claim_form(household)
    status = 200
    if form.validate_on_submit():
        photos = [f.read() for f in form.photos.data or [] if f and f.filename]
        try:
            claim = services.submit_claim(
                current_user, form.rule_id.data, photos, _photo_store(), quantity=form.quantity.data,
                occurred_on=form.occurred_on.data, note=form.note.data or "", client_key=f"web:{form.key.data}",
            )
        except DomainError as refusal:
            db.session.rollback()  # the form is shown again as it was before the refused claim
            field = form.photos if refusal.code in PHOTO_ERRORS else form.rule_id
            field.errors.append(refusal_message(refusal, form))
            status = 422
        else:
            flash(_("申报已提交，请等待网格员审核"))
            return redirect(url_for("claims.claim", claim_id=claim.id))
    elif request.method == "POST":
        status = 422
    else:
        # The key lives in the address, so the Back button or a reload shows the form with the key it was sent
        # with, even when the browser fetches the page again: sending it once more returns the claim made then.
        key = request.args.get("key", "")
        if not KEY.fullmatch(key):
            return redirect(url_for("claims.new_claim", key=uuid.uuid4().hex))
        form.occurred_on.data, form.key.data = local_today(), key
    return render_template("claims/new_claim.html", form=form), status


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """Photos over MAX_CONTENT_LENGTH together are refused before the body is read: show the form again with what
    was filled in above the photos (read from the body's first bytes), saying so."""
    limit = _("照片太大，合计不能超过 %(mb)d MB", mb=current_app.config["MAX_CONTENT_LENGTH"] // 1048576)
    if request.endpoint != "claims.new_claim" or policy.own_household_id(current_user) is None:
        return error_response("file_too_large", limit, 413)
    boundary, length = request.mimetype_params.get("boundary", "").encode("latin-1"), request.content_length
    filled = MultiDict()
    if boundary and length:  # a body of known length, none of which has been read
        filled = fields_before_files(LimitedStream(request.environ["wsgi.input"], length), boundary)
    form = _claim_form(services.villager_household(current_user), formdata=filled or None)
    if form.occurred_on.data is None:
        form.occurred_on.data = local_today()
    if not KEY.fullmatch(form.key.data or ""):  # no claim was made under the key it was sent with: it stays
        fresh_key(form)
    form.photos.errors = [limit]
    return render_template("claims/new_claim.html", form=form), 413


@bp.get("/claims")
@login_required
def claims():
    """A villager's own claims and appeals; a reviewer's queue (?status=pending|approved|rejected|all)."""
    page_number = request.args.get("page", 1, type=int)
    per_page = current_app.config["PER_PAGE"]
    household_id = policy.own_household_id(current_user)
    mine = household_claims(household_id, page_number, per_page) if household_id else None
    my_appeals = household_appeals(household_id, 1, per_page) if household_id else None
    queue, status = None, None
    if policy.holds(current_user, policy.Permission.REVIEW_CLAIMS):
        status_arg = request.args.get("status", "pending")
        status = next((s for s in ClaimStatus if s.value == status_arg), None)
        queue = claims_in_scope(
            policy.node_filter(current_user, policy.Permission.REVIEW_CLAIMS, Household.grid_id),
            status, page_number, per_page,
        )
    if mine is None and queue is None:
        raise DomainError("villagers_only", status=403)
    return render_template("claims/claims.html", mine=mine, my_appeals=my_appeals, queue=queue, status=status,
                           statuses=ClaimStatus)


@bp.get("/claims/<id:claim_id>")
@login_required
def claim(claim_id: int):
    claim = services.visible_claim(current_user, claim_id)
    reviewer = (claim.status is ClaimStatus.PENDING and claim.claimant_id != current_user.id
                and policy.can(current_user, policy.Permission.REVIEW_CLAIMS, claim.household.grid_id))
    return render_template("claims/claim.html", claim=claim, reviewer=reviewer, reject_form=RejectForm(formdata=None))


@bp.get("/claims/<id:claim_id>/photos/<int:position>")
@login_required
def photo(claim_id: int, position: int):
    claim = services.visible_claim(current_user, claim_id)
    return _private_jpeg(services.photo_path(claim, position, current_app.config["UPLOAD_FOLDER"]))


@bp.get("/claims/<id:claim_id>/photos/<int:position>/small")
@login_required
def thumbnail(claim_id: int, position: int):
    """The photo's thumbnail, for the claim's page: seen by whoever may see the photo, and nobody else."""
    claim = services.visible_claim(current_user, claim_id)
    return _private_jpeg(media.thumbnail(services.photo_path(claim, position, current_app.config["UPLOAD_FOLDER"])))


def _private_jpeg(path: str):
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"  # a household's photo, never in a shared cache
    return response


def _decision(decide, said, back: str, question=None):
    """Run one decision (approve, reject, decide an appeal), flash what said(result) says, and go back to its
    page; a refusal is shown there, except a 403 or 404, which is the page's answer. With question, a post not yet
    confirmed is undone and answered with question(result), the confirmation naming what it did."""
    try:
        result = decide()
    except DomainError as refusal:
        if refusal.status in (403, 404):
            raise
        refused(refusal)
        return redirect(back)
    if question is not None and not confirm.confirmed():
        return question(result)
    flash(said(result))
    return redirect(back)


def _form_refused(form, visible) -> bool:
    """Whether a decision's form is invalid; if so its first messages are flashed (after visible() has checked
    the user may see what they are deciding on)."""
    if form.validate_on_submit():
        return False
    visible()
    for errors in form.errors.values():
        flash(errors[0], "error")
    return True


@bp.post("/claims/<id:claim_id>/approve")
@login_required
def approve(claim_id: int):
    return _decision(lambda: services.approve_claim(current_user, claim_id),
                     lambda claim: _("已通过，%(amount)+d 分已记入", amount=claim.entry.amount),
                     url_for("claims.claim", claim_id=claim_id))


@bp.post("/claims/<id:claim_id>/reject")
@login_required
def reject(claim_id: int):
    form, back = RejectForm(), url_for("claims.claim", claim_id=claim_id)
    if _form_refused(form, lambda: services.visible_claim(current_user, claim_id)):
        return redirect(back)
    return _decision(lambda: services.reject_claim(current_user, claim_id, form.reason.data),
                     lambda _claim: _("已驳回"), back)


@bp.route("/entries/<id:entry_id>/appeal", methods=["GET", "POST"])
@login_required
def new_appeal(entry_id: int):
    household = services.villager_household(current_user)
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.household_id != household.id:
        raise NotFound()
    form = AppealForm()
    status = 200
    if form.validate_on_submit():
        try:
            appeal = services.submit_appeal(current_user, entry.id, form.reason.data, client_key=f"web:{form.key.data}")
        except DomainError as refusal:
            db.session.rollback()
            form.reason.errors.append(refusal_message(refusal, form))
            status = 422
        else:
            flash(_("申诉已提交，村管理员会尽快处理"))
            return redirect(url_for("claims.appeal", appeal_id=appeal.id))
    elif request.method == "POST":
        status = 422
    else:
        fresh_key(form)
    return render_template("claims/new_appeal.html", form=form, entry=entry, SOURCE_LABELS=SOURCE_LABELS), status


@bp.get("/appeals")
@login_required
def appeals():
    """The appeals an admin decides (?status=pending|upheld|reversed|all); a villager's own are on /claims."""
    if not policy.holds(current_user, policy.Permission.DECIDE_APPEALS):
        return redirect(url_for("claims.claims"))
    status_arg = request.args.get("status", "pending")
    status = next((s for s in AppealStatus if s.value == status_arg), None)
    page = appeals_in_scope(
        policy.node_filter(current_user, policy.Permission.DECIDE_APPEALS, Household.grid_id),
        status, request.args.get("page", 1, type=int), current_app.config["PER_PAGE"],
    )
    return render_template("claims/appeals.html", page=page, status=status, statuses=AppealStatus,
                           SOURCE_LABELS=SOURCE_LABELS)


@bp.get("/appeals/<id:appeal_id>")
@login_required
def appeal(appeal_id: int):
    appeal = services.visible_appeal(current_user, appeal_id)
    decider = appeal.status is AppealStatus.PENDING and policy.can(
        current_user, policy.Permission.DECIDE_APPEALS, appeal.household.grid_id
    )
    return render_template("claims/appeal.html", appeal=appeal, decider=decider, form=DecisionForm(formdata=None),
                           SOURCE_LABELS=SOURCE_LABELS)


@bp.post("/appeals/<id:appeal_id>/decision")
@login_required
def decide(appeal_id: int):
    form, back = DecisionForm(), url_for("claims.appeal", appeal_id=appeal_id)
    if _form_refused(form, lambda: services.visible_appeal(current_user, appeal_id)):
        return redirect(back)
    reverse = form.decision.data == "reverse"
    return _decision(lambda: services.decide_appeal(current_user, appeal_id, reverse, form.note.data or ""),
                     _decided, back, partial(_decision_question, back=back))


def _decided(appeal) -> str:
    if appeal.status is AppealStatus.REVERSED:
        return _("已撤销扣分，该户记 %(given)+d 分", given=db.session.get(LedgerEntry, appeal.reversal_id).amount)
    return _("已维持扣分")


def _decision_question(appeal, back: str):
    """The confirmation of an appeal's decision, made but not committed: the household, the entry, its points."""
    entry = appeal.entry
    what = entry.rule_version.name if entry.rule_version else SOURCE_LABELS[entry.source]
    deduction = _("户号 %(number)s 在 %(day)s 的扣分 %(amount)d 分（%(what)s）", number=appeal.household.number,
                  day=day_label(entry.occurred_on),
                  amount=entry.amount, what=what)
    details = [_("申诉理由：%(reason)s", reason=appeal.reason)]
    if appeal.decision_note:
        details.append(_("处理说明：%(note)s", note=appeal.decision_note))
    details.append(_("处理后不能更改，申诉人会看到处理结果。"))
    if appeal.status is AppealStatus.REVERSED:
        given = db.session.get(LedgerEntry, appeal.reversal_id).amount
        return confirm.ask(_("确认撤销扣分"),
                           _("撤销%(deduction)s：将为该户记 %(given)+d 分", deduction=deduction, given=given),
                           button=_("确认撤销，记 %(given)+d 分", given=given), back=back, details=details)
    return confirm.ask(_("确认维持扣分"), _("维持%(deduction)s：该户积分不变", deduction=deduction),
                       button=_("确认维持扣分"), back=back, details=details)

"""/api/v1 inspection-rounds (每周卫生评比: the round of a week, score sheets, publishing, results) and
monthly-summaries (每月汇总 and its 流动红旗).

Publishing moves points and honours the Idempotency-Key header: a retry with the same key answers as the first time
and posts nothing. Names of households' heads are masked (张*明); phones and ID numbers are never sent.
"""
from sqlalchemy import func, select

from ..auth import policy
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..grids.models import GridNode, NodeKind
from ..hygiene import inspection, monthly, publishing, queries
from ..hygiene.models import InspectionRound, MonthlySummary, Outcome, Publication, Score
from ..people.models import Household
from ..people.privacy import mask_name
from .auth import api_user, authenticate_request
from .blueprint import Blueprint
from .hygiene_schemas import (
    InspectionRoundPage,
    InspectionRoundSchema,
    MonthlySummaryPage,
    MonthlySummarySchema,
    PublicationSchema,
    PublishArgs,
    RoundArgs,
    RoundResultsSchema,
    ScoreListArgs,
    ScoreSheetArgs,
    ScoreSheetPage,
    ScoreSheetSchema,
    SummaryArgs,
    VillageArgs,
)
from .schemas import IDEMPOTENCY_HEADER, ErrorSchema, client_key, commit_keyed, page_of, utc

bp = Blueprint("api_hygiene", __name__, description="卫生评比：每周交叉检查、评分、发布结果；每月汇总与流动红旗")
bp.before_request(authenticate_request)


# Views of the records


def _name(node: GridNode | None) -> str | None:
    return node.name if node is not None else None


def round_view(round_: InspectionRound) -> dict:
    counts = queries.progress(round_.id)
    grids = []
    for assignment in sorted(round_.assignments, key=lambda a: a.grid_id):
        scored, households = counts.get(assignment.grid_id, (0, 0))
        grids.append({
            "grid_id": assignment.grid_id,
            "grid_name": assignment.grid.name,
            "inspector_grid_id": assignment.inspector_grid_id,
            "inspector_grid_name": _name(assignment.inspector_grid),
            "scored": scored,
            "households": households,
            "published_at": utc(assignment.published_at),
        })
    return {"id": round_.id, "village_id": round_.village_id, "week": round_.week, "month": round_.month,
            "monday": round_.monday, "grids": grids}


def sheet_view(household: Household, head_name: str, score: Score | None) -> dict:
    return {
        "household_id": household.id,
        "number": household.number,
        "head_name": mask_name(head_name),
        "grid_id": score.grid_id if score is not None else household.grid_id,
        "scored": score is not None,
        "deductions": score.deductions if score is not None else 0,
        "items": [{"item_id": d.item_id, "name": d.item.name, "points": d.points} for d in score.items]
                 if score else [],
        "note": score.note if score is not None else "",
        "revision": score.revision if score is not None else 0,
        "scored_at": utc(score.scored_at) if score is not None else None,
    }


def _period(period: str) -> str:
    """W2026-W47 → week:2026-W47, M2026-11 → month:2026-11: the names leaderboards take."""
    return ("week:" if period.startswith("W") else "month:") + period[1:]


def publication_view(publication: Publication, round_: InspectionRound) -> dict:
    grids = [g for g in queries.week_results(round_) if publication.grid_id in (None, g.grid.id)]
    return {
        "id": publication.id,
        "round_id": round_.id,
        "period": _period(publication.period),
        "grid_id": publication.grid_id,
        "posted": publication.posted,
        "reversed": publication.reversed,
        "created_at": utc(publication.created_at),
        "grids": [{
            "grid_id": g.grid.id,
            "grid_name": g.grid.name,
            "published_at": utc(g.assignment.published_at),
            "models": [line.household_id for line in g.models],
            "shamed": [line.household_id for line in g.shamed],
            "unscored": [line.household_id for line in g.unscored],
        } for g in grids],
    }


def results_view(round_: InspectionRound) -> dict:
    return {
        "round_id": round_.id,
        "village_id": round_.village_id,
        "week": round_.week,
        "month": round_.month,
        "grids": [{
            "grid_id": g.grid.id,
            "grid_name": g.grid.name,
            "inspector_grid_id": g.inspector.id if g.inspector else None,
            "inspector_grid_name": _name(g.inspector),
            "published_at": utc(g.assignment.published_at),
            "lines": [{
                "household_id": line.household_id,
                "number": line.number,
                "head_name": mask_name(line.head_name),
                "rank": line.rank,
                "deductions": line.value,
                "score": line.score,
                "scored": line.scored,
                "outcome": line.outcome,
                "items": [{"name": name, "points": points} for name, points in line.items],
            } for line in g.lines],
        } for g in queries.week_results(round_)],
    }


def summary_brief(summary: MonthlySummary) -> dict:
    return {"id": summary.id, "village_id": summary.village_id, "month": summary.month,
            "published_at": utc(summary.published_at)}


def summary_view(summary: MonthlySummary) -> dict:
    return {**summary_brief(summary), "grids": [{
        "grid_id": g.grid.id,
        "grid_name": g.grid.name,
        "average": g.average,
        "rank": g.rank,
        "households": [{
            "household_id": line.household_id,
            "number": line.number,
            "head_name": mask_name(line.head_name),
            "total": line.value,
            "weeks": line.score,
            "rank": line.rank,
            "flag": line.outcome is Outcome.FLAG,
        } for line in g.lines],
    } for g in queries.month_results(summary)]}


# Keys


def _api_key() -> str | None:
    key = client_key()
    # The pages use "web:…" keys: an API key never meets one.
    return f"api:{key}" if key else None


# Rounds


@bp.get("/inspection-rounds")
@bp.arguments(VillageArgs, location="query")
@bp.response(200, InspectionRoundPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def list_rounds(args):
    """A village's rounds, newest first, with each grid's inspector and progress."""
    village = policy.visible_village(api_user(), args["village_id"])
    where = InspectionRound.village_id == village.id
    total = db.session.scalar(select(func.count()).select_from(InspectionRound).where(where))
    rounds = db.session.scalars(select(InspectionRound).where(where).order_by(InspectionRound.monday.desc())
                                .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [round_view(r) for r in rounds], "total": total}


@bp.post("/inspection-rounds")
@bp.arguments(RoundArgs)
@bp.response(201, InspectionRoundSchema, description="The round was opened, with this week's rotation")
@bp.alt_response(200, schema=InspectionRoundSchema, description="该周评比已经开始过：原样返回")
@bp.alt_response(400, schema=ErrorSchema, description="周次格式有误，或这一周还没到")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村管理员和本村网格长、网格员可以开始评比")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def open_round(args):
    """开始评比: the village's round of a week, opened with the week's 交叉检查 rotation if it is not yet."""
    user = api_user()
    village = policy.visible_village(user, args["village_id"])
    if not inspection.may_open_round(user, village.id):
        raise Forbidden()
    existing = inspection.round_for(village, args["week"], create=False)
    if existing is not None:
        return round_view(existing), 200
    round_ = inspection.round_for(village, args["week"])
    return round_view(round_)


@bp.get("/inspection-rounds/<id:round_id>")
@bp.response(200, InspectionRoundSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该评比")
def get_round(round_id: int):
    return round_view(queries.visible_round(api_user(), round_id))


@bp.get("/inspection-rounds/<id:round_id>/scores")
@bp.arguments(ScoreListArgs, location="query")
@bp.response(200, ScoreSheetPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有负责检查的网格和本网格的工作人员能看评分表")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该评比，或该网格不在本周评比中")
def list_scores(args, round_id: int):
    """评分表: each household of the inspected grid (or of every grid the caller may read) by 户号, with its score
    sheet of the round if it has one. For staff; villagers read GET …/results once published."""
    user = api_user()
    round_ = queries.visible_round(user, round_id)
    rows = [row for a in inspection.readable_sheets(user, round_, args.get("grid_id"))
            for row in queries.sheet_rows(round_.id, a.grid_id)]
    return page_of([sheet_view(row.household, row.head_name, row.score) for row in rows], args)


@bp.put("/inspection-rounds/<id:round_id>/scores/<id:household_id>")
@bp.arguments(ScoreSheetArgs)
@bp.response(200, ScoreSheetSchema)
@bp.alt_response(400, schema=ErrorSchema, description="检查项目不存在、扣分超出范围或说明太长")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="本周不是您的网格检查这一户（说明您负责检查哪个网格），"
                                                      "或这是您自己家")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该评比，或这一户不在本周评比中")
@bp.alt_response(409, schema=ErrorSchema, description="这一户刚被别人保存过评分（score_changed），或本周该网格的"
                                                      "评分已发布（round_published），或本月已汇总（month_closed）")
def save_score(args, round_id: int, household_id: int):
    """评分: save a household's score sheet, item by item. Send back the revision you last saw, so that a sheet
    another inspector saved meanwhile is not overwritten."""
    user = api_user()
    round_ = queries.visible_round(user, round_id)
    deductions = {line["item_id"]: line["points"] for line in args["items"]}
    score = inspection.save_score(user, round_, household_id, deductions, note=args["note"], revision=args["revision"])
    head = score.household.head
    return sheet_view(score.household, head.name if head else "", score)


@bp.post("/inspection-rounds/<id:round_id>/publish")
@bp.arguments(PublishArgs, required=False)
@bp.response(201, PublicationSchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="请求有误")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村管理员或负责检查该网格的网格长可以发布；"
                                                      "提前发布只有村管理员可以（early_admin_only）")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该评比，或该网格不在本周评比中")
@bp.alt_response(409, schema=ErrorSchema, description="本周还没结束且还有户没有评分，没有选择提前发布"
                                                      "（week_not_over）；或该幂等键已用于另一次发布")
def publish_round(args, round_id: int):
    """发布: rank the grid (or every grid), post the 示范户 awards and 晾晒 penalties once; publishing again after a
    correction reverses and re-posts only what changed. A grid without a score sheet stays unpublished. Before the
    week is over, only grids fully scored are published, unless `early` is true."""
    user = api_user()
    round_ = queries.visible_round(user, round_id)
    key = _api_key()
    publication = commit_keyed(lambda: publishing.publish_round(user, round_, args.get("grid_id"), client_key=key,
                                                              early=args.get("early", False)))
    return publication_view(publication, round_)


@bp.get("/inspection-rounds/<id:round_id>/results")
@bp.response(200, RoundResultsSchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该评比")
def round_results(round_id: int):
    """The published results per grid (红榜 示范户, 晾晒), names masked, for the village's villagers and staff."""
    return results_view(queries.visible_round(api_user(), round_id))


# Monthly summaries


@bp.get("/monthly-summaries")
@bp.arguments(VillageArgs, location="query")
@bp.response(200, MonthlySummaryPage)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
def list_summaries(args):
    """A village's published months, newest first."""
    village = policy.visible_village(api_user(), args["village_id"])
    where = MonthlySummary.village_id == village.id
    total = db.session.scalar(select(func.count()).select_from(MonthlySummary).where(where))
    summaries = db.session.scalars(select(MonthlySummary).where(where).order_by(MonthlySummary.month.desc())
                                   .offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"]))
    return {"items": [summary_brief(s) for s in summaries], "total": total}


@bp.post("/monthly-summaries")
@bp.arguments(SummaryArgs)
@bp.response(201, MonthlySummarySchema)
@bp.doc(parameters=[IDEMPOTENCY_HEADER])
@bp.alt_response(400, schema=ErrorSchema, description="月份格式有误，或这个月还没到")
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="只有村管理员可以汇总")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该村")
@bp.alt_response(409, schema=ErrorSchema, description="这个月还没结束（month_not_over），或本月还有周没有发布"
                                                      "（month_weeks_unpublished，说明是哪几周、哪些网格）；"
                                                      "或该幂等键已用于另一次发布")
def publish_summary(args):
    """每月汇总: each household's monthly total of its published weekly scores; per grid the highest holds the
    流动红旗 and gets the monthly award. Publishing again after a correction reverses and re-posts only what changed."""
    user = api_user()
    village = db.session.get(GridNode, args["village_id"])
    if village is None or village.kind is not NodeKind.VILLAGE:
        raise NotFound()
    key = _api_key()
    summary = commit_keyed(lambda: monthly.publish_month(user, village, args["month"], client_key=key))
    return summary_view(summary)


@bp.get("/monthly-summaries/<id:summary_id>")
@bp.response(200, MonthlySummarySchema)
@bp.alt_response(401, schema=ErrorSchema, description="未登录")
@bp.alt_response(403, schema=ErrorSchema, description="不在权限范围内")
@bp.alt_response(404, schema=ErrorSchema, description="找不到该月汇总")
def get_summary(summary_id: int):
    """A published month per grid, best average first: households by monthly total, names masked."""
    summary = db.session.get(MonthlySummary, summary_id)
    if summary is None:
        raise NotFound()
    if not policy.can_see_village(api_user(), summary.village_id):
        raise Forbidden()
    return summary_view(summary)

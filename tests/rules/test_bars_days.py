"""限制兑换天数 of a rule (bars_days): the days a penalty also bars its household from redeeming. It round-trips through
the services, the rule book's forms and its workbook; an award or a number out of range is refused in Chinese and
writes nothing; an older workbook without the column still imports and leaves each rule's days as they were."""
import io
import re
from dataclasses import replace
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.rules.labels import rule_choices
from points.rules.models import Rule, RuleCategory, RuleVersion
from points.rules.queries import compare_with_template, rule_book
from points.rules.services import RuleTerms, create_rule, revise_rule
from points.rules.workbook import BARS_COLUMN, COLUMNS, export_workbook, import_rules
from points.timeutil import local_today

from .. import factories

GAMBLING = RuleTerms("参与赌博", RuleCategory.VILLAGE_RULES, -20, bars_days=90, roles=frozenset({Role.VILLAGE_ADMIN}))
YARD = RuleTerms("庭院整洁", RuleCategory.HYGIENE, 5, roles=frozenset({Role.GRID_WORKER}))
JAN, MAR, APR = date(2026, 1, 1), date(2026, 3, 1), date(2026, 4, 1)
MAX_BYTES = 10 * 1048576
OUT_OF_RANGE = "限制兑换天数必须是 0 到 730 之间的整数（0 为不限制）"
# The page tests run today: a revision must start after today.
START = local_today() - timedelta(days=60)
LATER = local_today() + timedelta(days=10)


def version_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RuleVersion))


def refusal_of(call, *args) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call(*args)
    db.session.rollback()
    return raised.value


# The services


def test_the_days_round_trip_through_a_version_and_its_revision(village):
    rule = create_rule(village.village, "VR-GAMBLE", GAMBLING, JAN)
    assert rule.versions[0].bars_days == 90 and RuleTerms.of(rule.versions[0]) == GAMBLING
    second = revise_rule(rule, replace(GAMBLING, bars_days=30), MAR)
    assert (rule.versions[0].bars_days, second.bars_days) == (90, 30)
    third = revise_rule(rule, replace(GAMBLING, bars_days=0), APR)
    assert RuleTerms.of(third) == replace(GAMBLING, bars_days=0)
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "rule.revised")).all()
    assert [(a.before["bars_days"], a.after["bars_days"]) for a in audit] == [(90, 30), (30, 0)]


def test_a_rule_says_nothing_of_bars_unless_told(village):
    assert create_rule(village.village, "HYG-YARD", YARD, JAN).versions[0].bars_days == 0


@pytest.mark.parametrize("terms, code, message", [
    (replace(YARD, bars_days=30), "rule_bars_only_penalty", "只有扣分细则才能附带限制兑换"),
    (replace(GAMBLING, bars_days=731), "rule_bars_days_invalid", OUT_OF_RANGE),
    (replace(GAMBLING, bars_days=-1), "rule_bars_days_invalid", OUT_OF_RANGE),
])
def test_bars_on_an_award_or_out_of_range_are_refused_in_chinese(village, terms, code, message):
    refused = refusal_of(create_rule, village.village, "X", terms, JAN)
    assert (refused.code, refused.message) == (code, message)
    assert version_count() == 0
    rule = create_rule(village.village, "VR-GAMBLE", GAMBLING, JAN)
    db.session.commit()
    assert refusal_of(revise_rule, rule, replace(terms, points=-20 if code != "rule_bars_only_penalty" else 5),
                      MAR).code == code
    assert version_count() == 1


def test_the_longest_bar_a_rule_carries_is_730_days(village):
    assert create_rule(village.village, "VR-BUILD", replace(GAMBLING, bars_days=730), JAN).versions[0].bars_days == 730


def test_the_comparison_with_the_template_names_the_days(village):
    create_rule(village.town, "VR-GAMBLE", GAMBLING, JAN)
    create_rule(village.village, "VR-GAMBLE", replace(GAMBLING, bars_days=30), JAN)
    comparison = compare_with_template(village.village.id, village.town.id, MAR)
    assert [(mine.bars_days, model.bars_days, fields) for mine, model, fields in comparison.changed] == [
        (30, 90, ["bars_days"])]


def test_whoever_deducts_reads_the_days_on_the_rule_choice(village, app):
    create_rule(village.village, "VR-GAMBLE", GAMBLING, JAN)
    with app.test_request_context():
        labels = [str(choice.label) for choice in rule_choices(rule_book(village.village.id, MAR))]
    assert labels[1] == "参与赌博（-20 分/次，另限制兑换 90 天）"


# The pages


@pytest.fixture
def admin(village, login):
    return login(factories.gen_user(Role.VILLAGE_ADMIN, village.village))


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def form(**fields) -> dict:
    """What the new-rule form posts for a village-rules penalty barring redeeming for 90 days."""
    data = {"code": "VR-GAMBLE", "name": "参与赌博", "category": "village_rules", "points": "-20",
            "unit": "occurrence", "for_registered": "y", "for_renters": "y", "bars_days": "90",
            "roles": ["village_admin"], "effective_from": START.isoformat(), "effective_until": ""}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_sets_the_days_on_the_form_and_the_book_shows_them(client, village, admin):
    page = client.get(f"/villages/{village.village.id}/rules/new")
    assert "限制兑换天数（扣分时附加，0 为不限制）" in text_of(page)
    assert 'name="bars_days"' in page.get_data(as_text=True)
    response = client.post(f"/villages/{village.village.id}/rules/new", data=form())
    assert response.status_code == 302, text_of(response)
    rule = db.session.scalar(select(Rule).where(Rule.code == "VR-GAMBLE"))
    assert rule.versions[0].bars_days == 90
    book = text_of(client.get(f"/villages/{village.village.id}/rules"))
    assert "另限制兑换 90 天 （从扣分当天算起，扣分撤销时一并解除）" in book


def test_a_blank_number_means_no_bar(client, village, admin):
    assert client.post(f"/villages/{village.village.id}/rules/new", data=form(bars_days="")).status_code == 302
    rule = db.session.scalar(select(Rule).where(Rule.code == "VR-GAMBLE"))
    assert rule.versions[0].bars_days == 0
    assert "另限制兑换" not in text_of(client.get(f"/villages/{village.village.id}/rules"))


@pytest.mark.parametrize("fields, message", [
    ({"points": "10"}, "只有扣分细则才能附带限制兑换"),
    ({"bars_days": "731"}, OUT_OF_RANGE),
    ({"bars_days": "-3"}, OUT_OF_RANGE),
])
def test_bad_days_on_the_form_are_answered_in_chinese_and_write_nothing(client, village, admin, fields, message):
    response = client.post(f"/villages/{village.village.id}/rules/new", data=form(**fields))
    assert response.status_code == 422
    assert message in text_of(response)
    assert version_count() == 0


def test_a_revision_keeps_or_changes_the_days(client, village, admin):
    rule = create_rule(village.village, "VR-GAMBLE", GAMBLING, START)
    db.session.commit()
    page = client.get(f"/rules/{rule.id}/edit")
    assert 'name="bars_days" type="number" value="90"' in page.get_data(as_text=True)
    assert "另限制兑换 90 天" in text_of(page)
    same = form(code=None, effective_from=LATER.isoformat(), effective_until=None)
    unchanged = client.post(f"/rules/{rule.id}/edit", data=same)
    assert unchanged.status_code == 422 and "内容与当前版本相同" in text_of(unchanged)
    response = client.post(f"/rules/{rule.id}/edit", data=same | {"bars_days": "30"})
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    assert [v.bars_days for v in rule.versions] == [90, 30]


def test_the_villagers_book_says_it_in_plain_words(client, village, login):
    create_rule(village.village, "VR-GAMBLE", GAMBLING, START)
    login(factories.gen_villager(factories.gen_household(village.grids[0])))
    text = text_of(client.get(f"/villages/{village.village.id}/rules"))
    assert "参与赌博" in text and "另限制兑换 90 天 （从扣分当天算起，扣分撤销时一并解除）" in text
    assert "VR-GAMBLE" not in text and "bars" not in text


# The workbook


def rows_of(data: bytes) -> list[dict]:
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def xlsx(rows: list[dict], header=COLUMNS) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(list(header))
    for row in rows:
        workbook.active.append([row.get(column) for column in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def book(village):
    create_rule(village.village, "HYG-YARD", YARD, JAN)
    create_rule(village.village, "VR-GAMBLE", GAMBLING, JAN)
    db.session.commit()
    return village


def test_the_export_has_the_column_and_imports_again_unchanged(book):
    data = export_workbook(rule_book(book.village.id, MAR))
    assert [(r["编码"], r[BARS_COLUMN]) for r in rows_of(data)] == [("HYG-YARD", None), ("VR-GAMBLE", 90)]
    notes = [row[0] for row in openpyxl.load_workbook(io.BytesIO(data))["填写说明"].iter_rows(values_only=True)]
    assert BARS_COLUMN in notes
    report = import_rules(book.village, data, MAX_BYTES, APR, None)
    assert report.ok and report.unchanged == ["HYG-YARD", "VR-GAMBLE"]


def test_a_changed_cell_revises_and_an_empty_one_is_no_bar(book):
    rows = rows_of(export_workbook(rule_book(book.village.id, MAR)))
    rows[1][BARS_COLUMN] = 30
    rows.append({**rows[1], "编码": "VR-BUILD", "名称": "违章搭建", BARS_COLUMN: None, "生效日期": None})
    report = import_rules(book.village, xlsx(rows), MAX_BYTES, APR, None)
    assert report.ok, report.errors
    assert (report.created, report.revised) == (["VR-BUILD"], ["VR-GAMBLE"])
    assert {v.rule.code: v.bars_days for v in rule_book(book.village.id, APR)} == {
        "HYG-YARD": 0, "VR-GAMBLE": 30, "VR-BUILD": 0}


def test_bad_days_in_the_workbook_are_reported_in_chinese_and_write_nothing(book):
    rows = rows_of(export_workbook(rule_book(book.village.id, MAR)))
    rows[0][BARS_COLUMN] = 10  # on an award
    rows.append({**rows[1], "编码": "VR-A", BARS_COLUMN: "三十"})
    rows.append({**rows[1], "编码": "VR-B", BARS_COLUMN: 731})
    before = version_count()
    report = import_rules(book.village, xlsx(rows), MAX_BYTES, APR, None)
    db.session.rollback()
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (2, BARS_COLUMN, "只有扣分细则才能附带限制兑换"), (4, BARS_COLUMN, OUT_OF_RANGE),
        (5, BARS_COLUMN, OUT_OF_RANGE)]
    assert version_count() == before


def test_an_older_workbook_without_the_column_imports_and_keeps_the_days(book):
    header = [c for c in COLUMNS if c != BARS_COLUMN]
    rows = rows_of(export_workbook(rule_book(book.village.id, MAR)))
    unchanged = import_rules(book.village, xlsx(rows, header), MAX_BYTES, APR, None)
    assert unchanged.ok and unchanged.unchanged == ["HYG-YARD", "VR-GAMBLE"]
    rows[1]["分值"] = -30
    rows.append({**rows[1], "编码": "VR-NEW", "名称": "新规", "生效日期": None})
    report = import_rules(book.village, xlsx(rows, header), MAX_BYTES, APR, None)
    assert report.ok, report.errors
    assert (report.created, report.revised) == (["VR-NEW"], ["VR-GAMBLE"])
    days = {v.rule.code: (v.points, v.bars_days) for v in rule_book(book.village.id, APR)}
    assert days == {"HYG-YARD": (5, 0), "VR-GAMBLE": (-30, 90), "VR-NEW": (-30, 0)}

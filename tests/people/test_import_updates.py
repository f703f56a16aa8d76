"""导入 as update: the 花名册 matched with the register by 户号 (residents by 身份证号, else name), previewed, then
applied; the export is the same workbook, and importing it back changes nothing."""
import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth import register
from points.auth.models import Role
from points.errors import DomainError
from points.extensions import db
from points.ledger.queries import balance_of
from points.people import import_updates
from points.people.import_table import COLUMNS
from points.people.imports import import_households
from points.people.models import CareTag, Closure, Departure, HouseholdKind, Resident
from points.people.privacy import mask_id_number
from points.people.register_workbook import register_rows, template_workbook
from points.people.services import add_resident, close_household, remove_resident, with_id_checksum

from .. import factories
from .test_imports import MAX_BYTES, counts, household, xlsx

ID_A = with_id_checksum("35058219800101123")
ID_B = with_id_checksum("35058219850202234")
ID_C = with_id_checksum("35058219900303345")


def exported(village) -> list[dict]:
    """The register as import rows (dicts by column), as the export writes them."""
    return [dict(zip(COLUMNS, row)) for row in register_rows(village.village)]


def preview(village, rows, header=COLUMNS):
    before = counts()
    report = import_households(village.village, xlsx(rows, header), MAX_BYTES, apply=False)
    assert report.ok, report.errors
    assert counts() == before, "a preview writes nothing"
    return report


def applied(village, rows, header=COLUMNS):
    report = import_households(village.village, xlsx(rows, header), MAX_BYTES)
    assert report.ok, report.errors
    db.session.commit()
    db.session.expire_all()
    return report


def changes(report) -> list[tuple]:
    return [(c.number, c.name, c.column, c.before, c.after) for c in report.changes]


def two_households(village):
    """户号 0001: 张三明 (head, ID A) and his wife 李秀英; 户号 0002: 王五, a renter with care tags."""
    first = factories.gen_household(village.grids[0], id_number=ID_A)
    add_resident(first, "李秀英", "配偶", None, None)
    factories.gen_household(village.grids[1], head_name="王五", kind=HouseholdKind.RENTER, phone=None,
                            care_tags=[CareTag.LOW_INCOME, CareTag.EMPTY_NEST])
    db.session.commit()
    return first


def test_the_exported_register_imported_back_changes_nothing(village):
    two_households(village)
    rows = exported(village)
    assert [r["姓名"] for r in rows] == ["张三明", "李秀英", "王五"]
    report = preview(village, rows)
    assert (report.households, report.residents, report.changes, report.unmentioned, report.absent) == (
        0, 0, [], [], [])
    assert report.empty


def test_the_export_workbook_reads_back_as_the_same_rows(village):
    two_households(village)
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook(village.village, register_rows(village.village))))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]][:3] == ["户号", "户主姓名*", "姓名"]
    report = import_households(village.village, template_workbook(village.village, register_rows(village.village)),
                               MAX_BYTES, apply=False)
    assert report.ok and report.empty, (report.errors, report.changes)


def test_a_changed_field_is_previewed_with_before_and_after_then_applied_and_audited(village):
    first = two_households(village)
    rows = exported(village)
    rows[0]["门牌号"] = rows[1]["门牌号"] = "新街8号"
    rows[1]["手机号"] = "13912345678"
    rows[2]["户籍类型"] = "户籍"
    rows[2]["关爱标签"] = "低保"
    report = preview(village, rows)
    assert changes(report) == [
        ("0001", "张三明", "门牌号", first.address, "新街8号"),
        ("0001", "李秀英", "手机号", "", "139****5678"),
        ("0002", "王五", "户籍类型", "外来租住", "户籍"),
        ("0002", "王五", "关爱标签", "低保、空巢老人", "低保"),
    ]
    assert household(village, "0001").address == first.address
    assert applied(village, rows).digest == report.digest
    assert household(village, "0001").address == "新街8号"
    assert household(village, "0001").residents[1].phone == "13912345678"
    renter = household(village, "0002")
    assert (renter.kind, [t.tag for t in renter.care_tags]) == (HouseholdKind.REGISTERED, [CareTag.LOW_INCOME])
    logged = {e.action: e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.in_(
        ["household.updated", "resident.updated", "households.imported"])))}
    assert logged["resident.updated"].after == {"household": "0001", "phone": "139****5678"}
    assert logged["households.imported"].after == {"households": 0, "residents": 0, "changes": 4}
    assert preview(village, exported(village)).empty, "the same file a second time: nothing more to change"


def test_residents_are_matched_by_id_number_then_by_name(village):
    two_households(village)
    rows = exported(village)
    rows[0]["姓名"] = rows[0]["户主姓名"] = rows[1]["户主姓名"] = "张三民"  # the head's name corrected: same ID number
    rows[1]["身份证号"] = ID_B  # the wife, by name: her ID number added
    report = applied(village, rows)
    assert changes(report) == [
        ("0001", "张三民", "姓名", "张三明", "张三民"),
        ("0001", "李秀英", "身份证号", "", mask_id_number(ID_B)),
    ]
    first = household(village, "0001")
    assert [(r.name, r.id_number) for r in first.residents] == [("张三民", ID_A), ("李秀英", ID_B)]
    assert first.head.name == "张三民"
    assert db.session.scalar(select(func.count()).select_from(Resident)) == 3, "matched, not added"


def test_a_new_member_joins_and_one_the_file_leaves_out_is_listed_not_removed(village):
    two_households(village)
    rows = exported(village)
    rows[1] = {**rows[1], "姓名": "张小明", "与户主关系": "子女", "手机号": None}
    report = applied(village, rows)
    assert (report.households, report.residents) == (0, 1)
    assert changes(report) == [("0001", "张小明", "成员", "", "新增")]
    assert [(a.number, a.name) for a in report.absent] == [("0001", "李秀英")]
    first = household(village, "0001")
    assert [(r.name, r.relation, r.left_on) for r in first.residents] == [
        ("张三明", "户主", None), ("李秀英", "配偶", None), ("张小明", "子女", None)]


def test_the_head_is_changed_to_a_member_and_the_old_head_takes_the_files_relation(village):
    two_households(village)
    rows = exported(village)
    rows[0] = {**rows[0], "户主姓名": "李秀英", "与户主关系": "配偶"}
    rows[1] = {**rows[1], "户主姓名": "李秀英", "与户主关系": "户主"}
    report = applied(village, rows)
    assert ("0001", "李秀英", "户主", "张三明", "李秀英") in changes(report)
    first = household(village, "0001")
    assert first.head.name == "李秀英"
    assert [(r.name, r.relation) for r in first.residents] == [("张三明", "配偶"), ("李秀英", "户主")]


def test_households_the_file_does_not_mention_are_listed_and_stay_on_the_register(village):
    two_households(village)
    report = applied(village, exported(village)[:2])
    assert [(u.number, u.name) for u in report.unmentioned] == [("0002", "王五")]
    assert household(village, "0002").closed_on is None


def test_a_column_the_file_leaves_out_is_left_alone(village):
    two_households(village)
    header = ("户号", "户主姓名", "姓名", "所属网格", "门牌号")
    report = preview(village, exported(village), header)
    assert report.empty, changes(report)


def test_a_blank_phone_or_id_number_leaves_the_registered_one(village):
    two_households(village)
    rows = exported(village)
    rows[0]["手机号"] = rows[0]["身份证号"] = ""
    assert preview(village, rows).empty


def test_a_row_without_a_number_updates_the_household_at_its_grid_address_and_head(village):
    first = two_households(village)
    rows = [{"户主姓名": "张三明", "所属网格": "第1网格", "门牌号": first.address, "手机号": "13700000000"}]
    report = applied(village, rows)
    assert (report.households, changes(report)) == (0, [("0001", "张三明", "手机号", "138****5678", "137****0000")])


def test_a_household_moves_to_another_grid(village):
    two_households(village)
    rows = exported(village)
    rows[0]["所属网格"] = rows[1]["所属网格"] = "第3网格"
    applied(village, rows)
    assert household(village, "0001").grid.name == "第3网格"


def test_new_and_updated_households_in_one_file(village):
    two_households(village)
    rows = exported(village) + [{"户主姓名": "赵六", "所属网格": "第2网格", "门牌号": "后街9号"}]
    report = applied(village, rows)
    assert (report.households, report.residents, report.changes) == (1, 1, [])
    assert household(village, "0003").head.name == "赵六"


def test_importing_changes_no_balance_and_no_entry(village):
    first = two_households(village)
    factories.gen_points(first, 30)
    db.session.commit()
    rows = exported(village)
    rows[1]["与户主关系"] = "妻子"
    applied(village, rows)
    assert balance_of(first.id) == 30


# Refused: the whole file, with the row.


def test_a_closed_household_cannot_be_imported_again(village):
    first = two_households(village)
    rows = exported(village)
    close_household(first, Closure.MOVED_OUT, date(2026, 11, 1))
    db.session.commit()
    before = counts()
    report = import_households(village.village, xlsx(rows), MAX_BYTES)
    assert (report.errors[0].row, report.errors[0].column) == (2, "户号")
    assert "已整户迁出" in report.errors[0].message and counts() == before


def test_a_move_of_a_household_closed_after_the_file_was_compared_refuses_the_file(village, monkeypatch):
    """整户迁出 committed between the comparison and the households' hold: its grid totals left with it, and a move
    would take them off its grid once more."""
    first = two_households(village)
    factories.gen_points(first, 30)
    db.session.commit()
    rows = exported(village)
    rows[0]["所属网格"] = rows[1]["所属网格"] = "第3网格"
    hold = import_updates.hold_households

    def closed_meanwhile(household_ids):
        close_household(first, Closure.MOVED_OUT, date(2026, 11, 1))
        hold(household_ids)

    monkeypatch.setattr(import_updates, "hold_households", closed_meanwhile)
    with pytest.raises(DomainError) as refusal:
        import_households(village.village, xlsx(rows), MAX_BYTES)
    assert refusal.value.code == "closed_since_preview" and "户号 0001 在预览之后已整户迁出" in refusal.value.message


def test_an_id_number_of_someone_in_another_household_is_refused(village):
    two_households(village)
    rows = exported(village)
    rows[0]["身份证号"] = ""  # left as it is
    rows[2]["身份证号"] = ID_A
    report = import_households(village.village, xlsx(rows), MAX_BYTES)
    assert [(e.row, e.column, e.message) for e in report.errors] == [(4, "身份证号", "该身份证号已登记在本村户号 0001")]


def test_an_id_number_of_a_resident_who_left_stays_theirs(village):
    first = two_households(village)
    wife = first.residents[1]
    wife.id_number = ID_C
    remove_resident(wife, Departure.DECEASED, date(2026, 10, 1))
    db.session.commit()
    rows = exported(village) + [{"户号": "0001", "户主姓名": "张三明", "姓名": "李秀", "与户主关系": "配偶",
                                 "身份证号": ID_C, "所属网格": "第1网格", "门牌号": first.address}]
    report = import_households(village.village, xlsx(rows), MAX_BYTES)
    assert [(e.row, e.message) for e in report.errors] == [(4, "该身份证号已登记在本村户号 0001")]
    assert "李秀英" not in [r["姓名"] for r in exported(village)], "who left is not exported"



def test_text_typed_with_full_width_characters_is_not_a_change(village):
    first = two_households(village)
    first.address = "前街１号（出租屋 ２ 室）"
    db.session.commit()
    assert preview(village, exported(village)).empty


def test_a_new_head_the_old_one_missing_from_the_file_leaves_the_old_one_a_member(village):
    two_households(village)
    rows = [row for row in exported(village) if row["姓名"] != "张三明"]
    rows = [{**row, "户主姓名": "李秀英", "与户主关系": "户主"} if row["姓名"] == "李秀英" else row for row in rows]
    applied(village, rows)
    first = household(village, "0001")
    assert [(r.name, r.relation) for r in first.residents] == [("张三明", "家庭成员"), ("李秀英", "户主")]
    assert preview(village, exported(village)).empty, "and the export imports back"


def test_an_admin_does_not_change_their_own_household_by_import(village):
    first = two_households(village)
    admin = factories.gen_user(Role.VILLAGE_ADMIN, village.village)
    admin.resident = first.residents[1]
    db.session.commit()
    rows = exported(village)
    unchanged = register.import_households(admin, village.village, xlsx(rows), MAX_BYTES, apply=False)
    assert unchanged.ok, "their household's rows, unchanged, are no error"
    rows[0]["门牌号"] = rows[1]["门牌号"] = "新街8号"
    rows[2]["门牌号"] = "后街9号"
    report = register.import_households(admin, village.village, xlsx(rows), MAX_BYTES)
    assert [(e.row, e.message) for e in report.errors] == [
        (2, "户号 0001 是您自己家，不能由您修改，请由其他管理员导入")]
    assert household(village, "0002").address != "后街9号", "all or nothing"

"""导入: households and residents from .xlsx and .csv, all or nothing, with a row-by-row report in Chinese."""
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

from points.extensions import db
from points.grids.models import NodeKind
from points.grids.services import create_node
from points.people.import_table import COLUMNS
from points.people.imports import import_households
from points.people.models import CareTag, Household, HouseholdKind, Resident
from points.people.register_workbook import template_workbook
from points.people.services import with_id_checksum

from .. import factories

MAX_BYTES = 10 * 1048576
ID_A = with_id_checksum("35058219800101123")
ID_B = with_id_checksum("35058219850202234")


def person(**cells) -> dict:
    """One spreadsheet row: the head of a household in 第1网格 unless cells say otherwise."""
    return {"户主姓名": "张三明", "所属网格": "第1网格", "门牌号": "前街1号", **cells}


def xlsx(rows: list[dict], header=COLUMNS) -> bytes:
    """An .xlsx whose first sheet has the header on row 1 and then one line per row (None: a blank line)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append([None] * len(header) if row is None else [row.get(column) for column in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[dict], encoding: str = "utf-8") -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(str(row.get(c, "")) for c in COLUMNS) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def counts() -> tuple[int, int]:
    """(households, residents) in the database, as this session sees it."""
    return (
        db.session.scalar(select(func.count()).select_from(Household)),
        db.session.scalar(select(func.count()).select_from(Resident)),
    )


def refused(village, data: bytes, max_bytes: int = MAX_BYTES) -> list[tuple[int, str, str]]:
    """The (row, column, message) errors of an import that must write nothing."""
    before = counts()
    report = import_households(village.village, data, max_bytes)
    assert not report.ok
    assert counts() == before, "a file with any error imports nothing"
    return [(e.row, e.column, e.message) for e in report.errors]


def imported(village, data: bytes):
    report = import_households(village.village, data, MAX_BYTES)
    assert report.ok, report.errors
    return report


def household(village, number: str) -> Household:
    return db.session.scalar(select(Household).where(Household.village_id == village.village.id,
                                                     Household.number == number))


def only_household(village, address: str) -> Household:
    return db.session.scalars(
        select(Household).where(Household.village_id == village.village.id, Household.address == address)
    ).one()


# Bad files: a row-by-row report, nothing imported.


def test_missing_head_name_is_reported_and_nothing_is_imported(village):
    rows = [person(门牌号="前街1号"), person(户主姓名="", 门牌号="前街2号"), person(门牌号="前街3号")]
    assert refused(village, xlsx(rows)) == [(3, "户主姓名", "户主姓名不能为空")]


def test_member_row_without_a_name_is_reported(village):
    rows = [person(户号="0001"), person(户号="0001", 与户主关系="配偶")]
    assert refused(village, xlsx(rows)) == [(3, "姓名", "姓名不能为空（与户主关系为“配偶”）")]


def test_head_relation_on_another_name_is_reported(village):
    rows = [person(户号="0001", 姓名="李秀英", 与户主关系="户主")]
    assert refused(village, xlsx(rows)) == [(2, "姓名", "与户主关系为“户主”，但姓名与户主姓名“张三明”不同")]


def test_unknown_grid_is_reported(village):
    rows = [person(), person(所属网格="第9网格", 门牌号="前街2号")]
    assert refused(village, xlsx(rows)) == [(3, "所属网格", "找不到网格“第9网格”")]


def test_a_grid_of_another_village_is_unknown(village):
    other = factories.gen_village()
    create_node("东湖片", "east-lake", NodeKind.GRID, other.village)
    assert refused(village, xlsx([person(所属网格="东湖片")])) == [(2, "所属网格", "找不到网格“东湖片”")]


@pytest.mark.parametrize("phone", ["1381234567", "12812345678", "138-1234-567a", "0595-85123456"])
def test_malformed_phone_is_reported(village, phone):
    rows = [person(手机号="13812345678"), person(门牌号="前街2号", 手机号=phone)]
    assert refused(village, xlsx(rows)) == [(3, "手机号", "手机号格式不正确，应为 11 位手机号")]


def test_duplicate_id_number_within_the_file_is_reported(village):
    rows = [person(身份证号=ID_A), person(门牌号="前街2号", 身份证号=ID_B), person(门牌号="前街3号", 身份证号=ID_A)]
    assert refused(village, xlsx(rows)) == [(4, "身份证号", "身份证号与第 2 行重复")]


def test_id_number_already_in_the_database_is_reported(village):
    factories.gen_household(village.grids[1], id_number=ID_A)
    db.session.commit()
    rows = [person(身份证号=ID_B), person(门牌号="前街2号", 身份证号=ID_A)]
    assert refused(village, xlsx(rows)) == [(3, "身份证号", "该身份证号已登记在本村户号 0001")]


def test_id_number_with_a_wrong_check_digit_is_reported(village):
    wrong = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")
    rows = [person(身份证号=ID_B), person(门牌号="前街2号", 身份证号=wrong)]
    assert refused(village, xlsx(rows)) == [
        (3, "身份证号", "身份证号格式不正确（18 位，末位校验码需正确）（Excel 中请把该列设为文本格式）")
    ]


def test_a_file_over_the_limit_is_refused_before_it_is_read(village):
    rows = "".join(f"{n},张三明,,,,,第1网格,前街{n}号,,\r\n" for n in range(700_000))
    data = (",".join(COLUMNS) + "\r\n" + rows).encode()[: 20 * 1048576]
    assert len(data) == 20 * 1048576
    assert refused(village, data) == [(0, "", "文件太大（20.0 MB），上限为 10 MB")]


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(200)


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (_png(), "该文件不是 Excel（.xlsx）或 CSV 表格"),
        (_docx(), "无法读取该 Excel 文件，请确认是 .xlsx 格式"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "这是旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入"),
        (b"", "文件是空的"),
        (b"\r\n,,,\r\n\r\n", "文件是空的"),
    ],
    ids=["image", "word-document", "old-xls", "empty", "only-blank-lines"],
)
def test_a_file_that_is_not_a_usable_spreadsheet_is_refused_as_a_whole(village, data, message):
    assert refused(village, data) == [(0, "", message)]


def test_a_missing_required_column_is_reported_on_the_header_row(village):
    header = [c for c in COLUMNS if c not in ("所属网格", "门牌号")]
    assert refused(village, xlsx([person()], header=header)) == [
        (1, "", "缺少必填列：所属网格、门牌号（请使用导入模板）")
    ]


def test_every_error_of_every_row_is_reported_in_file_order(village):
    rows = [
        person(所属网格="第9网格", 手机号="123"),
        person(门牌号="前街2号"),
        person(户主姓名="", 门牌号="", 户籍类型="常住", 关爱标签="低保、五保"),
    ]
    assert refused(village, csv_bytes(rows)) == [
        (2, "手机号", "手机号格式不正确，应为 11 位手机号"),
        (2, "所属网格", "找不到网格“第9网格”"),
        (4, "户主姓名", "户主姓名不能为空"),
        (4, "门牌号", "门牌号不能为空"),
        (4, "户籍类型", "户籍类型“常住”无效，应为“户籍”或“外来租住”"),
        (4, "关爱标签", "未知的关爱标签“五保”，可用：低保、贫困、残疾、空巢老人、留守儿童"),
    ]


def test_rows_of_one_household_must_agree(village):
    rows = [person(户号="0001"), person(户号="0001", 姓名="李秀英", 与户主关系="配偶", 所属网格="第2网格")]
    assert refused(village, xlsx(rows)) == [
        (3, "户号", "与第 2 行同属一户，但户主姓名、所属网格、门牌号或户籍类型不一致")
    ]


def test_rows_grouped_by_address_must_agree_on_the_kind(village):
    rows = [person(), person(姓名="李秀英", 与户主关系="配偶", 户籍类型="外来租住")]
    assert refused(village, xlsx(rows)) == [
        (3, "户籍类型", "与第 2 行同属一户，但户主姓名、所属网格、门牌号或户籍类型不一致")
    ]


def test_two_head_rows_in_one_household_are_reported(village):
    rows = [person(户号="0001", 手机号="13812345678"), person(户号="0001", 姓名="张三明", 与户主关系="户主")]
    assert refused(village, xlsx(rows)) == [(3, "姓名", "同一户有两行户主（另见第 2 行）")]


def test_the_same_household_number_in_another_village_is_free(village):
    other = factories.gen_village()
    factories.gen_household(other.grids[0])  # 户号 0001 of the other village
    db.session.commit()
    imported(village, xlsx([person(户号="0001")]))
    assert household(village, "0001").residents[0].name == "张三明"


# Accepted as people write them.


def test_full_width_digits_are_accepted_and_normalized(village):
    rows = [
        person(
            户号="０００７",
            手机号="１３８ １２３４ ５６７８",
            身份证号=ID_A.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
            门牌号="前街１２号",
        )
    ]
    imported(village, xlsx(rows))
    head = household(village, "0007").head
    assert (head.phone, head.id_number, head.household.address) == ("13812345678", ID_A, "前街12号")


def test_blank_rows_are_skipped_and_rows_keep_their_numbers(village):
    rows = [person(), None, None, person(门牌号="前街2号"), None]
    assert imported(village, xlsx(rows)).households == 2
    rows = [person(), None, None, person(门牌号="前街2号", 手机号="1")]
    assert refused(village, xlsx(rows)) == [(5, "手机号", "手机号格式不正确，应为 11 位手机号")]


def test_a_csv_in_gbk_from_excel_on_chinese_windows_is_accepted(village):
    rows = [
        person(户号="0001", 户籍类型="户籍"),
        person(户号="0001", 姓名="李秀英", 与户主关系="配偶"),
        person(户号="0002", 户主姓名="黄淑惠", 门牌号="榕树下3号", 户籍类型="外来租住", 关爱标签="空巢老人"),
    ]
    data = csv_bytes(rows, "gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = imported(village, data)
    assert (report.households, report.residents) == (2, 3)
    assert [r.name for r in household(village, "0001").residents] == ["张三明", "李秀英"]
    renter = household(village, "0002")
    assert (renter.address, renter.kind, [t.tag for t in renter.care_tags]) == (
        "榕树下3号",
        HouseholdKind.RENTER,
        [CareTag.EMPTY_NEST],
    )


def test_a_csv_in_utf8_with_a_bom_is_accepted(village):
    data = b"\xef\xbb\xbf" + csv_bytes([person(户号="0001")])
    imported(village, data)
    assert household(village, "0001").head.name == "张三明"


@pytest.mark.parametrize("phone", [13812345678, 13812345678.0], ids=["int", "float"])
def test_a_phone_excel_stored_as_a_number_is_read_as_digits(village, phone):
    imported(village, xlsx([person(户号="0001", 手机号=phone)]))
    assert household(village, "0001").head.phone == "13812345678"


# Good files.


def test_one_row_per_household(village):
    rows = [
        person(手机号="13812345678", 身份证号=ID_A),
        person(户主姓名="林志明", 所属网格="第2网格", 门牌号="后街5号"),
        person(户主姓名="陈丽娟", 所属网格="第3网格", 门牌号="东路8号", 户籍类型="外来租住"),
    ]
    report = imported(village, xlsx(rows))
    assert (report.rows, report.households, report.residents) == (3, 3, 3)
    assert counts() == (3, 3)
    first = only_household(village, "前街1号")
    assert (first.grid_id, first.kind, first.head.name, first.head.relation) == (
        village.grids[0].id,
        HouseholdKind.REGISTERED,
        "张三明",
        "户主",
    )
    assert (first.head.phone, first.head.id_number) == ("13812345678", ID_A)
    assert only_household(village, "东路8号").kind is HouseholdKind.RENTER
    assert only_household(village, "后街5号").grid_id == village.grids[1].id


def test_member_rows_are_grouped_by_household_number(village):
    rows = [
        person(户号="0001", 与户主关系="户主", 手机号="13812345678"),
        person(户号="0002", 户主姓名="林志明", 门牌号="后街5号"),
        person(户号="0001", 姓名="李秀英", 与户主关系="配偶", 身份证号=ID_A),
        person(户号="0001", 姓名="张伟", 与户主关系="子女", 手机号="13912345678"),
        person(户号="0002", 户主姓名="林志明", 门牌号="后街5号", 姓名="林小华"),
    ]
    report = imported(village, xlsx(rows))
    assert (report.households, report.residents) == (2, 5)
    first = household(village, "0001")
    assert [(r.name, r.relation, r.phone, r.id_number) for r in first.residents] == [
        ("张三明", "户主", "13812345678", None),
        ("李秀英", "配偶", None, ID_A),
        ("张伟", "子女", "13912345678", None),
    ]
    assert first.head.name == "张三明"
    second = household(village, "0002")
    assert [(r.name, r.relation) for r in second.residents] == [("林志明", "户主"), ("林小华", "家庭成员")]
    assert second.head.name == "林志明"


def test_without_household_numbers_rows_group_by_grid_address_and_head(village):
    rows = [
        person(),
        person(姓名="李秀英", 与户主关系="配偶"),
        person(门牌号="前街2号", 姓名="张伟", 与户主关系="子女"),  # same head name, another house
        person(所属网格="第2网格", 姓名="张丽", 与户主关系="子女"),  # same address, another grid
        person(户主姓名="张三", 姓名="张芳", 与户主关系="子女"),  # same address, another head
    ]
    report = imported(village, xlsx(rows))
    assert (report.households, report.residents) == (4, 8)
    main = db.session.scalars(
        select(Household).where(Household.address == "前街1号", Household.grid_id == village.grids[0].id)
    ).all()
    by_head = {h.head.name: [r.name for r in h.residents] for h in main}
    assert by_head == {"张三明": ["张三明", "李秀英"], "张三": ["张三", "张芳"]}


def test_a_household_of_member_rows_gets_its_head_from_the_head_name(village):
    rows = [
        person(户号="0001", 姓名="李秀英", 与户主关系="配偶", 手机号="13912345678"),
        person(户号="0001", 姓名="张伟", 与户主关系="子女"),
    ]
    report = imported(village, xlsx(rows))
    assert (report.households, report.residents) == (1, 3)
    home = household(village, "0001")
    assert (home.head.name, home.head.relation, home.head.phone) == ("张三明", "户主", None)
    assert [r.name for r in home.residents] == ["张三明", "李秀英", "张伟"]


def test_automatic_household_numbers_continue_after_existing_ones(village):
    factories.gen_household(village.grids[0])  # 0001
    factories.gen_household(village.grids[0])  # 0002
    db.session.commit()
    rows = [person(门牌号="前街7号"), person(户号="0004", 门牌号="前街8号"), person(门牌号="前街9号")]
    imported(village, xlsx(rows))
    numbers = {h.address: h.number
               for h in db.session.scalars(select(Household).where(Household.address.like("前街_号")))}
    assert numbers == {"前街7号": "0003", "前街8号": "0004", "前街9号": "0005"}


def test_care_tags_are_read_from_every_row_of_the_household(village):
    rows = [
        person(户号="0001", 关爱标签="低保、空巢老人"),
        person(户号="0001", 姓名="张伟", 与户主关系="孙子女", 关爱标签="留守儿童，低保"),
        person(户号="0002", 门牌号="前街2号"),
    ]
    imported(village, xlsx(rows))
    assert {t.tag for t in household(village, "0001").care_tags} == {
        CareTag.LOW_INCOME,
        CareTag.EMPTY_NEST,
        CareTag.LEFT_BEHIND_CHILD,
    }
    assert household(village, "0002").care_tags == []


@pytest.mark.parametrize("word", ["外来租住", "外来", "租住", "外来租住人员"])
def test_renters_are_recognised(village, word):
    imported(village, xlsx([person(户号="0001", 户籍类型=word),
                            person(户号="0002", 门牌号="前街2号", 户籍类型="户籍")]))
    assert (household(village, "0001").kind, household(village, "0002").kind) == (
        HouseholdKind.RENTER,
        HouseholdKind.REGISTERED,
    )


def test_grids_of_a_deeper_tree_need_a_path_when_their_name_is_ambiguous(village):
    east = create_node("东片", "east", NodeKind.GRID, village.village)
    west = create_node("西片", "west", NodeKind.GRID, village.village)
    east_first = create_node("第一网格", "east-1", NodeKind.GRID, east)
    west_first = create_node("第一网格", "west-1", NodeKind.GRID, west)
    db.session.commit()
    assert refused(village, xlsx([person(所属网格="东片/第一网格"),
                                  person(门牌号="前街2号", 所属网格="第一网格")])) == [
        (3, "所属网格", "网格名称“第一网格”不唯一，请写完整路径（如 一级网格/第一网格）")
    ]
    rows = [
        person(门牌号="前街1号", 所属网格="东片/第一网格"),
        person(门牌号="前街2号", 所属网格="西片／第一网格"),
        person(门牌号="前街3号", 所属网格="west-1"),
    ]
    imported(village, xlsx(rows))
    grid_of = {h.address: h.grid_id for h in db.session.scalars(select(Household))}
    assert grid_of == {"前街1号": east_first.id, "前街2号": west_first.id, "前街3号": west_first.id}


def test_the_template_filled_in_imports(village):
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook(village.village)))
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["户号", "户主姓名*"]
    assert {"手机号", "身份证号", "所属网格*", "门牌号*", "户籍类型", "关爱标签"} <= set(header)
    assert sheet.max_row == 1, "no example row that would be imported as a real household"
    notes = openpyxl.load_workbook(io.BytesIO(template_workbook(village.village)))["填写说明"]
    assert "第1网格" in [c.value for row in notes.iter_rows() for c in row], "the example uses a grid of this village"
    for values in (
        ["0001", "姚建国", "", "户主", "13812345678", ID_A, "第1网格", "瑶前村前街1号", "户籍", "低保"],
        ["0001", "姚建国", "许秀英", "配偶", "", ID_B, "第1网格", "瑶前村前街1号", "户籍", ""],
        ["", "陈伟", "", "", 13912345678, "", "第3网格", "瑶前村东路2号", "外来租住", ""],
    ):
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = imported(village, buffer.getvalue())
    assert (report.households, report.residents) == (2, 3)
    assert [r.id_number for r in household(village, "0001").residents] == [ID_A, ID_B]
    assert only_household(village, "瑶前村东路2号").head.phone == "13912345678"


def test_the_template_keeps_phone_and_id_columns_as_text_for_new_rows(village):
    sheet = openpyxl.load_workbook(io.BytesIO(template_workbook(village.village))).worksheets[0]
    for column in ("E", "F"):
        assert sheet.column_dimensions[column].number_format == "@", f"{sheet[column + '1'].value} is not text"


def test_excel_unicode_text_is_read_as_tab_separated_utf16(village):
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark, columns separated by tabs."""
    lines = ["户主姓名\t所属网格\t门牌号\t手机号", "王五\t第1网格\t前街9号\t13812345678"]
    report = imported(village, "\r\n".join(lines).encode("utf-16"))
    assert report.ok, report.errors
    assert only_household(village, "前街9号").head.phone == "13812345678"


def test_text_longer_than_its_column_is_reported(village):
    rows = [person(姓名="张" * 51, 与户主关系="子女"), person(门牌号="号" * 201)]
    assert refused(village, xlsx(rows)) == [
        (2, "姓名", "姓名不能超过 50 个字符"),
        (3, "门牌号", "门牌号不能超过 200 个字符"),
    ]


def test_nul_characters_anywhere_in_a_csv_are_dropped(village):
    rows = ("户主姓名,所属网格,门牌号\n" + "".join(f"户主{i},第1网格,前街{i}号\n" for i in range(600))
            + "王\x00五,第1网格,后街1号\n")
    imported(village, rows.encode("utf-8"))
    assert only_household(village, "后街1号").head.name == "王五"


"""flask --app points import-households FILE --village CODE: the same import from the command line."""
from points.errors import DomainError
from points.people import imports

from .test_imports import counts, csv_bytes, person, xlsx


def test_a_good_file_is_imported(runner, village, tmp_path):
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(xlsx([person(户号="0001"), person(户号="0001", 姓名="李秀英", 与户主关系="配偶"),
                           person(户号="0002", 门牌号="前街2号")]))
    result = runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    assert result.exit_code == 0, result.output
    assert "已导入：新增 2 户、3 人，变更 0 处" in result.output
    assert counts() == (2, 3)


def test_a_preview_prints_the_changes_and_writes_nothing(runner, village, tmp_path):
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(xlsx([person(户号="0001")]))
    runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    path.write_bytes(xlsx([person(户号="0001", 门牌号="后街5号"), person(户号="0002", 门牌号="前街2号")]))
    result = runner.invoke(args=["import-households", str(path), "--village", village.village.code, "--preview"])
    assert result.exit_code == 0, result.output
    assert "户号 0001 张三明【门牌号】前街1号 → 后街5号" in result.output
    assert "预览：新增 1 户、1 人，变更 1 处；未写入" in result.output
    assert counts() == (1, 1)


def test_a_bad_file_lists_its_errors_and_imports_nothing(runner, village, tmp_path):
    path = tmp_path / "花名册.csv"
    path.write_bytes(csv_bytes([person(), person(户主姓名="", 门牌号="前街2号"),
                                person(门牌号="前街3号", 手机号="138")], "gbk"))
    result = runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    assert result.exit_code != 0
    assert "第 3 行【户主姓名】：户主姓名不能为空" in result.output
    assert "第 4 行【手机号】：手机号格式不正确，应为 11 位手机号" in result.output
    assert "共 2 处错误，未导入任何数据" in result.output
    assert counts() == (0, 0)


def test_a_file_that_is_not_a_spreadsheet_is_refused(runner, village, tmp_path):
    path = tmp_path / "花名册.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    result = runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    assert result.exit_code != 0
    assert "文件：这是旧版 .xls 文件" in result.output
    assert counts() == (0, 0)


def test_an_unknown_village_is_refused(runner, village, tmp_path):
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(xlsx([person()]))
    result = runner.invoke(args=["import-households", str(path), "--village", "nowhere"])
    assert result.exit_code != 0
    assert "找不到编码为 nowhere 的村" in result.output
    assert counts() == (0, 0)


def test_a_household_closed_while_the_file_is_applied_refuses_it_in_chinese(runner, village, tmp_path, monkeypatch):
    def closed_meanwhile(updates, actor):
        raise DomainError("closed_since_preview", status=409, number="0001")

    path = tmp_path / "花名册.xlsx"
    path.write_bytes(xlsx([person(户号="0001")]))
    runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    path.write_bytes(xlsx([person(户号="0001", 门牌号="后街5号")]))
    monkeypatch.setattr(imports, "apply_updates", closed_meanwhile)
    result = runner.invoke(args=["import-households", str(path), "--village", village.village.code])
    assert result.exit_code == 1
    assert "户号 0001 在预览之后已整户迁出，花名册没有导入" in result.output

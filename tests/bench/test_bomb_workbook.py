"""The spreadsheets of bench/bomb_workbook.py, made to exhaust a worker, as the import's reader answers them: a
declared size is not trusted (rows are never padded to it), and a sheet or a .csv past the row limit is refused in
Chinese. The script measures their time and memory; this checks what they come to."""
import sys
from pathlib import Path

import pytest

from points.errors import DomainError
from points.uploads import MAX_COLUMNS, MAX_ROWS, read_table

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.bomb_workbook import LIMIT, dimension, far_row, workbook  # noqa: E402


@pytest.mark.parametrize("declared", ["A1:XFD2000", "A1:XFD1048576"])
def test_a_workbook_declaring_a_huge_size_is_read_by_its_cells(declared):
    """A 1.5 KB workbook declaring A1:XFD2000 once made the reader pad 2,000 rows to 16,384 columns."""
    header, rows = read_table(workbook(dimension(declared)), LIMIT)
    assert header[:3] == ["户主姓名", "所属网格", "门牌号"] and len(header) <= MAX_COLUMNS
    assert [(number, row[:3], len(row) <= MAX_COLUMNS) for number, row in rows] == [
        (2, ["张三明", "第一网格", "前街1号"], True)]


def test_a_workbook_of_a_million_rows_is_refused():
    with pytest.raises(DomainError) as refused:
        read_table(workbook(far_row), LIMIT)
    assert refused.value.message == f"文件超过 {MAX_ROWS} 行，请分成几个文件导入"


def test_a_csv_of_empty_lines_is_refused_past_the_row_limit():
    with pytest.raises(DomainError) as refused:
        read_table("户主姓名,所属网格,门牌号\r\n".encode() + b"\r\n" * (MAX_ROWS + 1), LIMIT)
    assert refused.value.code == "too_many_rows"

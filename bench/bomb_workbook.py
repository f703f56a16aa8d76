"""Benchmark: spreadsheets made to exhaust a worker, read by the import's reader (points.uploads.read_table, which
the 花名册 and the rule book imports share). Each is timed, with the memory the reading allocated at its peak.

    python bench/bomb_workbook.py

1. A 1.5 KB .xlsx declaring <dimension ref="A1:XFD2000"/> with two cells: it took 8.8 s and grew a gunicorn worker
   from 112 to 628 MB before a 422, when every row was padded to the declared 16,384 columns.
2. The same declaring A1:XFD1048576, the whole sheet.
3. A .xlsx with one cell in row 1,048,576: a million empty rows before it.
4. A .csv of 10 MB of empty lines (the import's size limit).
Target (issue 20): each answered in under 1 s with less than 50 MB of memory.
"""
import io
import re
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from points.errors import DomainError  # noqa: E402
from points.uploads import read_table  # noqa: E402

LIMIT = 10 * 1048576


def workbook(edit) -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["户主姓名", "所属网格", "门牌号"])
    book.active.append(["张三明", "第一网格", "前街1号"])
    buffer = io.BytesIO()
    book.save(buffer)
    source, target = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = edit(content.decode()).encode()
            out.writestr(item, content)
    return target.getvalue()


def dimension(ref: str):
    return lambda xml: re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{ref}"', xml)


def far_row(xml: str) -> str:
    return xml.replace("</sheetData>", '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
                                       "</sheetData>")


def main() -> None:
    cases = {
        "xlsx declaring A1:XFD2000": workbook(dimension("A1:XFD2000")),
        "xlsx declaring A1:XFD1048576": workbook(dimension("A1:XFD1048576")),
        "xlsx with a cell in row 1,048,576": workbook(far_row),
        "csv of 10 MB of empty lines": "户主姓名,所属网格,门牌号\r\n".encode() + b"\r\n" * ((LIMIT - 64) // 2),
    }
    for name, data in cases.items():
        started = time.perf_counter()
        outcome = read(data)
        elapsed = time.perf_counter() - started
        tracemalloc.start()  # a second reading, traced (tracing slows it down: the time is the first's)
        read(data)
        peak = tracemalloc.get_traced_memory()[1] / 1048576
        tracemalloc.stop()
        print(f"{name} ({len(data) / 1024:.1f} KB): {elapsed:.2f} s, peak {peak:.1f} MB allocated; {outcome}")


def read(data: bytes) -> str:
    try:
        _, rows = read_table(data, LIMIT)
    except DomainError as refusal:
        return f"refused: {refusal.message}"
    return f"read: {len(rows)} rows of at most {max((len(r) for _, r in rows), default=0)} cells"


if __name__ == "__main__":
    main()

"""Benchmark: import 35,000 households (about 105,000 residents) from one .xlsx into a fresh database, then export
the register, change 1 % of its rows and import it again (the preview, then the confirmation that applies it).

    python bench/import_households.py                                   # SQLite in a temporary folder
    python bench/import_households.py --database-url postgresql://postgres@127.0.0.1/points_bench

The PostgreSQL database named in the URL is dropped and created afresh, and dropped again at the end.
Prints one line per figure; the import line is the one the 60-second target applies to.
"""
import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import openpyxl
from flask_migrate import upgrade
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

# Run from a checkout without installing the app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.postgres import reset_postgres  # noqa: E402
from points import create_app  # noqa: E402
from points.config import database_url  # noqa: E402
from points.extensions import db  # noqa: E402
from points.grids.models import NodeKind  # noqa: E402
from points.grids.services import create_node  # noqa: E402
from points.people.import_table import COLUMNS  # noqa: E402
from points.people.imports import import_households  # noqa: E402
from points.people.models import Household, Resident  # noqa: E402
from points.people.register_workbook import export_register  # noqa: E402
from points.people.services import with_id_checksum  # noqa: E402
from points.uploads import read_table  # noqa: E402

GRIDS = ("第一网格", "第二网格", "第三网格")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏"
            "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
            "武戴莫孔向汤洪颜")
MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林建国志文永福金水清源德荣海天东"
FEMALE = "芳娜敏静丽艳娟霞燕玲桂英秀兰梅琳雪婷慧红萍云莉颖倩洁琴晶凤春月素珍惠淑雅"
STREETS = ("前街", "后街", "东路", "西路", "南巷", "北巷", "中心路", "榕树下", "新村", "祠堂边")
RELATIONS = ("配偶", "子女", "子女", "子女", "父母", "孙子女", "儿媳")
SIZES = (1, 2, 2, 3, 3, 3, 3, 4, 4, 5)  # 3 people a household on average
PHONE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "187", "188", "199")
ID_REGIONS = ("350582", "350581", "350583", "350521", "350524", "350526")  # 晋江, 石狮, 南安, 惠安, 安溪, 德化
CARE_TAGS = ("低保", "空巢老人", "残疾", "留守儿童", "贫困", "低保、残疾")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=35_000)
    parser.add_argument("--database-url", help="PostgreSQL; SQLite in a temporary folder when absent")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    # The machine may be shared: a load above the number of cores stretches every figure below.
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    data, residents = roster(args.households, random.Random(args.seed))
    print(
        f"generate .xlsx: {args.households} households, {residents} residents, "
        f"{len(data) / 1048576:.1f} MB: {time.perf_counter() - started:.1f} s"
    )
    if args.database_url:
        url = database_url(args.database_url, "")
        reset_postgres(url, create=True)
        try:
            run(url, data)
        finally:
            reset_postgres(url, create=False)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite:///" + str(Path(folder) / "bench.db"), data)


def run(url: str, data: bytes) -> None:
    """Time the parse alone, then the whole import (parse, validate, write, commit) into a fresh schema."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    limit = app.config["IMPORT_MAX_BYTES"]
    dialect = make_url(url).get_backend_name()
    with app.app_context():
        upgrade()
        village = build_village()
        db.session.commit()

        started = time.perf_counter()
        _, rows = read_table(data, limit)
        print(f"parse .xlsx ({len(rows)} rows): {time.perf_counter() - started:.1f} s")

        started, cpu, peak = time.perf_counter(), time.process_time(), _peak_mib()
        report = import_households(village, data, limit)
        if not report.ok:
            sys.exit(f"import refused: {report.errors[:5]}")
        db.session.commit()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"import {report.households} households ({report.residents} residents) {dialect}: {elapsed:.1f} s "
            f"(this process's CPU: {cpu:.1f} s)"
        )
        # The generated file and the parse above are in memory already: the rise is what the import itself needed.
        print(f"peak memory of this process: {peak:.0f} MiB before the import, {_peak_mib():.0f} MiB after")

        stored = (
            db.session.scalar(select(func.count()).select_from(Household)),
            db.session.scalar(select(func.count()).select_from(Resident)),
        )
        if stored != (report.households, report.residents):
            sys.exit(f"stored {stored}, reported {(report.households, report.residents)}")
        reimport(village, limit, dialect)
        db.session.remove()
        db.engine.dispose()


def reimport(village, limit: int, dialect: str) -> None:
    """Export the register, change 1 % of the rows as a clerk keeping it would (a new phone, a new address for the
    whole household, a member added), then time the preview and the confirmation, each as the page runs it."""
    started = time.perf_counter()
    exported = export_register(village)
    db.session.commit()
    print(f"export the register: {time.perf_counter() - started:.1f} s")
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    sheet = workbook.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    rng = random.Random(7)
    changed = rng.sample(range(len(rows)), len(rows) // 100)
    for count, index in enumerate(changed):
        row = rows[index]
        if count % 3 == 0:
            row[4] = phone(rng)
        elif count % 3 == 1:  # a household's new address: every row of it
            address = row[7] + "之一"
            for other in rows:
                if other[0] == row[0]:
                    other[7] = address
        else:
            rows.append([row[0], row[1], name(rng, row[1][0], rng.random() < 0.5), "孙子女", "", "", row[6], row[7],
                         row[8], ""])
    edited = openpyxl.Workbook()
    edited.active.append(list(COLUMNS))
    for row in sorted(rows, key=lambda r: r[0]):
        edited.active.append(row)
    buffer = io.BytesIO()
    edited.save(buffer)
    data = buffer.getvalue()

    started = time.perf_counter()
    preview = import_households(village, data, limit, apply=False)
    db.session.rollback()
    preview_seconds = time.perf_counter() - started
    if not preview.ok:
        sys.exit(f"re-import refused: {preview.errors[:5]}")
    started = time.perf_counter()
    report = import_households(village, data, limit)
    db.session.commit()
    apply_seconds = time.perf_counter() - started
    print(
        f"re-import with {len(changed)} rows changed (1 %) {dialect}: preview {preview_seconds:.1f} s "
        f"({len(preview.changes)} changes, {preview.residents} new residents), confirm {apply_seconds:.1f} s, "
        f"together {preview_seconds + apply_seconds:.1f} s"
    )
    if report.digest != preview.digest:
        sys.exit("the confirmation did not apply what the preview showed")
    again = import_households(village, data, limit, apply=False)
    db.session.rollback()
    if not again.empty:
        sys.exit(f"the same file a second time still changes {len(again.changes)}")


def build_village():
    """A demo-like village: 安海镇 / 瑶前村 with three grids."""
    town = create_node("安海镇", "anhai", NodeKind.TOWN)
    village = create_node("瑶前村", "yaoqian", NodeKind.VILLAGE, town)
    for number, name in enumerate(GRIDS, start=1):
        create_node(name, f"yaoqian-{number}", NodeKind.GRID, village)
    return village


def roster(households: int, rng: random.Random) -> tuple[bytes, int]:
    """The .xlsx a village clerk would fill in from the template: one row per person, 户号 on every row."""
    # Not write_only: like Excel, a normal workbook records the sheet's dimensions, which spares the reader a
    # first pass over the whole sheet.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "户籍花名册"
    sheet.append(list(COLUMNS))
    ids: set[str] = set()
    residents = 0
    for index in range(households):
        number = f"{index + 1:05d}"
        grid = GRIDS[index * len(GRIDS) // households]
        renter = rng.random() < 0.08
        surname = rng.choice(SURNAMES)
        head = name(rng, surname, male=rng.random() < 0.8)
        address = f"瑶前村{rng.choice(STREETS)}{rng.randint(1, 400)}号" + (f"{rng.randint(1, 6)}室" if renter else "")
        kind = "外来租住" if renter else "户籍"
        tags = rng.choice(CARE_TAGS) if rng.random() < 0.03 else ""
        sheet.append([number, head, "", "户主", phone(rng), id_number(rng, ids, 1945, 1995), grid, address, kind, tags])
        size = rng.choice(SIZES)
        for _ in range(size - 1):
            relation = rng.choice(RELATIONS)
            member = name(rng, rng.choice(SURNAMES) if relation in ("配偶", "儿媳") else surname, rng.random() < 0.5)
            member_phone = phone(rng) if rng.random() < 0.6 else ""
            member_id = id_number(rng, ids, 1935, 2020)
            sheet.append([number, head, member, relation, member_phone, member_id, grid, address, kind, ""])
        residents += size
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), residents


def name(rng: random.Random, surname: str, male: bool) -> str:
    pool = MALE if male else FEMALE
    return surname + "".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 2, 2))))


def phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def id_number(rng: random.Random, taken: set[str], first_year: int, last_year: int) -> str:
    """A valid 18-digit 身份证号 for about 70% of people (the rest blank), never one already used."""
    if rng.random() >= 0.7:
        return ""
    while True:
        birth = date(first_year, 1, 1) + timedelta(days=rng.randrange((last_year - first_year) * 365))
        candidate = with_id_checksum(f"{rng.choice(ID_REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}")
        if candidate not in taken:
            taken.add(candidate)
            return candidate



def _peak_mib() -> float:
    """The process's peak resident memory so far (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if __name__ == "__main__":
    main()

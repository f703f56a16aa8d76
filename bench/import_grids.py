"""Benchmark: import a town's grid tree with its staff from one workbook (the shape of 虹桥镇: 714 micro-grids under 93
grids, about 930 staff) into a fresh database, through the command line, then import the same file again.

    python bench/import_grids.py                                   # SQLite in a temporary folder
    python bench/import_grids.py --database-url postgresql://postgres@127.0.0.1/points_bench

The PostgreSQL database named in the URL is dropped and created afresh, and dropped again at the end. Prints one line
per figure; the import line (preview, then apply and commit, as `flask --app points import-grids` runs them) is the
one the 30-second target applies to.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the app

from bench.postgres import reset_postgres  # noqa: E402
from points.auth.tree_workbook import COLUMNS  # noqa: E402
from points.config import database_url  # noqa: E402

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓"
            "曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜崔")
GIVEN = ("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林建国志文"
         "永福金水清源德荣海天东芳娜敏静丽艳娟霞燕玲桂英秀兰")


def tree_rows(villages: int, grids: int, micro: int, seed: int) -> tuple[list[list[str]], int]:
    """The rows of the workbook and how many staff they name: villages with a 村管理员, grids with a 网格长,
    micro-grids with a 网格员 (one in six with a second); micro-grids are spread over the grids."""
    rng = random.Random(seed)
    serial = iter(range(1, 100_000))

    def person() -> str:
        return f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN)} 13{next(serial):09d}"

    rows, staff = [], 0
    for v in range(1, villages + 1):
        rows.append(["hq", f"hq-{v:02d}", f"第{v}社区", "社区", person(), "", ""])
        staff += 1
    for g in range(1, grids + 1):
        village = (g - 1) % villages + 1
        rows.append([f"hq-{village:02d}", f"hq-{village:02d}-{g:03d}", f"第{g}网格", "网格", "", person(), ""])
        staff += 1
    for m in range(1, micro + 1):
        grid = (m - 1) % grids + 1
        village = (grid - 1) % villages + 1
        workers = [person()] + ([person()] if m % 6 == 0 else [])
        rows.append([f"hq-{village:02d}-{grid:03d}", f"hq-{village:02d}-{grid:03d}-{m:03d}", f"{m}号微网格", "微网格",
                     "", "", "、".join(workers)])
        staff += len(workers)
    return rows, staff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--villages", type=int, default=12)
    parser.add_argument("--grids", type=int, default=93)
    parser.add_argument("--micro", type=int, default=714)
    parser.add_argument("--database-url", help="PostgreSQL; SQLite in a temporary folder when absent")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rows, staff = tree_rows(args.villages, args.grids, args.micro, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        book = openpyxl.Workbook()
        book.active.append(list(COLUMNS))
        for row in rows:
            book.active.append(row)
        path = Path(folder) / "tree.xlsx"
        book.save(path)
        print(f"workbook: {args.villages} villages, {args.grids} grids, {args.micro} micro-grids, {staff} staff, "
              f"{path.stat().st_size / 1024:.0f} KB")
        url = database_url(args.database_url, "") if args.database_url else f"sqlite:///{folder}/bench.db"
        if args.database_url:
            reset_postgres(url, create=True)
        try:
            run(url, path)
        finally:
            if args.database_url:
                reset_postgres(url, create=False)


def flask(url: str, *arguments: str, stdin: str | None = None) -> tuple[float, str]:
    """Run `flask --app points …` as an admin would; its wall time and output. Exits when it fails."""
    environment = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", RATELIMIT_STORAGE_URI="memory://")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "points", *arguments], cwd=ROOT, env=environment,
                          input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"flask {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, (done.stdout.strip().splitlines() or [""])[0]


def run(url: str, path: Path) -> None:
    dialect = url.split(":", 1)[0].split("+")[0]
    flask(url, "db", "upgrade")
    flask(url, "init-town", "虹桥镇", "--code", "hq", "--admin", "hqadmin", "--password-file", "-",
          stdin="bench-password-1\n")
    idle, _ = flask(url, "verify")  # the command's start-up alone (Python, the app, a query): in every figure below
    print(f"start-up of a flask command (verify on an empty town) {dialect}: {idle:.1f} s")
    elapsed, said = flask(url, "import-grids", str(path), "--town", "hq", "--preview")
    print(f"preview {dialect}: {elapsed:.1f} s — {said}")
    elapsed, said = flask(url, "import-grids", str(path), "--town", "hq")
    print(f"import {dialect}: {elapsed:.1f} s — {said}")
    elapsed, said = flask(url, "import-grids", str(path), "--town", "hq", "--preview")
    print(f"the same file again, preview {dialect}: {elapsed:.1f} s — {said}")


if __name__ == "__main__":
    main()

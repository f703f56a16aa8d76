"""A week's and a month's results as .xlsx, for the notice board and the village's records. Names are masked as on
the results pages; the file is in Chinese whatever the page's language, like the rule book's."""
from flask_babel import force_locale

from ..people.privacy import mask_name
from ..periods import month_label, week_label
from ..xlsx import add_sheet, book_bytes, new_book
from .models import OUTCOME_LABELS, InspectionRound, MonthlySummary
from .queries import GridMonth, GridWeek


def _outcome(outcome) -> str:
    return str(OUTCOME_LABELS[outcome]) if outcome is not None else ""


def week_workbook(round_: InspectionRound, grids: list[GridWeek]) -> bytes:
    """One row per household of the published grids: grid, inspected by, rank, 户号, head, deductions and the items,
    score, outcome (示范户 / 晾晒); households left out have no rank."""
    book = new_book()
    rows = []
    for grid in grids:
        inspector = grid.inspector.name if grid.inspector else "村两委"
        for line in grid.lines:
            items = "、".join(f"{name}-{points}" for name, points in line.items)
            rows.append((grid.grid.name, inspector, line.rank if line.rank is not None else "未评",
                         line.number, mask_name(line.head_name), line.value if line.scored else "", items,
                         line.score if line.rank is not None else "", _outcome(line.outcome)))
    with force_locale("zh_CN"):  # a workbook does not follow the page's language
        title = week_label(round_.monday, year=True)  # 2026年12月第2周（12.7–12.13）, short enough to name a sheet
    add_sheet(book, f"{title} 评比",
              ("网格", "检查网格", "名次", "户号", "户主", "扣分", "扣分项目", "得分", "结果"),
              rows, (14, 14, 8, 10, 10, 8, 36, 8, 16))
    return book_bytes(book)


def month_workbook(summary: MonthlySummary, grids: list[GridMonth]) -> bytes:
    """Two sheets: the grids ranked by average, and every household's monthly total with the 流动红旗 marked."""
    book = new_book()
    add_sheet(book, "网格排名", ("名次", "网格", "户均得分", "参评户数", "流动红旗"),
           [(g.rank, g.grid.name, g.average, len(g.lines), "、".join(line.number for line in g.holders))
            for g in grids], (8, 16, 12, 10, 20))
    rows = [(g.grid.name, line.rank, line.number, mask_name(line.head_name), line.value, line.score,
             "流动红旗" if line.outcome is not None else "") for g in grids for line in g.lines]
    with force_locale("zh_CN"):
        month = month_label(summary.month)  # 2026年12月
    add_sheet(book, f"{month} 各户", ("网格", "名次", "户号", "户主", "月度总分", "参评周数", "结果"),
           rows, (16, 8, 10, 10, 10, 10, 12))
    return book_bytes(book)

"""Each chart of the 数据看板 as an .xlsx of exactly its figures, one sheet with Chinese headers (in Chinese whatever
the page's language, like the other exports)."""
from flask_babel import force_locale

from ..leaderboards.queries import GridPlace
from ..periods import Period, week_label
from ..rules.models import CATEGORY_LABELS
from ..xlsx import add_sheet, book_bytes, new_book
from .queries import CategoryFigures, Participation, WeekFigures
from .villages import VillageComparison, VillageRow


def _category(figures: CategoryFigures) -> str:
    if figures.category is None:
        return "未分类"
    with force_locale("zh_CN"):  # a workbook does not follow the page's language
        return str(CATEGORY_LABELS[figures.category])


def _days(period: Period) -> str:
    return f"{period.first.isoformat()} 至 {period.last.isoformat()}"


def _week(period: Period) -> str:
    """2026年11月第3周: the 日期 column beside it gives the days."""
    with force_locale("zh_CN"):
        return week_label(period.first, year=True, dates=False)


def _month(period: Period) -> str:
    return period.key[1:]  # 'M2026-11' → '2026-11'


def _one_decimal(value) -> float:
    return round(float(value), 1)


def weekly_workbook(weeks: list[WeekFigures]) -> bytes:
    book = new_book()
    add_sheet(book, "每周积分", ("周", "日期", "发放积分", "扣减积分", "净得分", "兑换笔数", "兑换积分"),
              [(_week(w.period), _days(w.period), w.awarded, w.deducted, w.net, w.redemptions,
                w.redeemed) for w in weeks], (18, 26, 12, 12, 12, 12, 12))
    return book_bytes(book)


def category_workbook(month: Period, figures: list[CategoryFigures]) -> bytes:
    book = new_book()
    add_sheet(book, "分类积分", ("月份", "类别", "发放积分", "扣减积分", "净得分", "记分笔数"),
              [(_month(month), _category(f), f.awarded, f.deducted,
                f.net, f.entries) for f in figures], (10, 14, 12, 12, 12, 12))
    return book_bytes(book)


def participation_workbook(months: list[Participation]) -> bytes:
    book = new_book()
    add_sheet(book, "参与率", ("月份", "户数", "有积分变动的户数", "参与率（%）"),
              [(_month(m.period), m.households, m.active, m.percent) for m in months], (10, 10, 18, 12))
    return book_bytes(book)


def grid_workbook(month: Period, places: list[GridPlace]) -> bytes:
    book = new_book()
    add_sheet(book, "网格对比", ("月份", "名次", "网格", "所属村", "户数", "有积分户数", "参与率（%）", "总积分",
                                "户均积分"),
              [(_month(month), p.rank, p.name, p.village or "", p.households, p.active,
                _one_decimal(p.active * 100 / p.households) if p.households else 0.0, p.total,
                _one_decimal(p.average)) for p in places], (10, 8, 18, 18, 8, 12, 12, 10, 10))
    return book_bytes(book)


VILLAGE_HEADERS = ("月份", "名次", "村", "户数", "有积分变动的户数", "参与率（%）", "总积分", "户均积分",
                   "卫生评比月均分", "兑换笔数", "兑换积分", "办理中诉求")


def _village(month: Period, row: VillageRow) -> tuple:
    return (_month(month), row.rank if row.rank is not None else "合计", row.name, row.households, row.active,
            row.participation, row.total, _one_decimal(row.per_household),
            row.hygiene if row.hygiene is not None else "—", row.redemptions, row.redeemed, row.open_reports)


def village_workbook(comparison: VillageComparison) -> bytes:
    """各村对比: a row per village, best points per household first, and the town's row last."""
    book = new_book()
    add_sheet(book, "各村对比", VILLAGE_HEADERS,
              [_village(comparison.month, row) for row in (*comparison.villages, comparison.town)],
              (10, 8, 18, 8, 16, 12, 10, 10, 14, 10, 10, 12))
    return book_bytes(book)

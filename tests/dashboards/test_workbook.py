"""The 数据看板's weekly .xlsx names each week as people do (2026年11月第3周), its days beside it."""
import io
from datetime import date

import openpyxl
from flask_babel import force_locale

from points.dashboards.queries import WeekFigures
from points.dashboards.workbook import weekly_workbook
from points.periods import PeriodKind, period_of


def test_each_week_is_named_by_its_month_and_number_not_its_iso_week(app):
    weeks = [WeekFigures(period_of(PeriodKind.WEEK, day), 10, 3, 1, 5) for day in (date(2025, 12, 29),
                                                                                   date(2026, 11, 16))]
    with app.test_request_context(), force_locale("en"):
        rows = list(openpyxl.load_workbook(io.BytesIO(weekly_workbook(weeks))).active.iter_rows(values_only=True))
    assert rows[1][:2] == ("2026年1月第1周", "2025-12-29 至 2026-01-04")
    assert rows[2] == ("2026年11月第3周", "2026-11-16 至 2026-11-22", 10, 3, 7, 1, 5)

"""The week's and month's .xlsx name the week and month as people do, in Chinese whatever the page's language."""
import io

import openpyxl
from flask_babel import force_locale

from points.hygiene.queries import week_results
from points.hygiene.workbook import week_workbook

from .helpers import gen_scene, score_all


def test_the_week_sheet_is_named_by_the_month_week_and_its_days(app):
    scene = gen_scene(grids=2, per_grid=2)
    round_ = scene.round("2025-W01")  # Monday 30 December 2024, Thursday 2 January: January's first week
    score_all(scene, round_, 0, [0, 1])
    with app.test_request_context(), force_locale("en"):
        book = openpyxl.load_workbook(io.BytesIO(week_workbook(round_, week_results(round_))))
    assert book.sheetnames == ["2025年1月第1周（12.30–1.5） 评比"]

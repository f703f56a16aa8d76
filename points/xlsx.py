"""Report workbooks (.xlsx) as the pages export them: sheets of a bold, frozen header row over plain rows, where
text is never taken for a formula."""
import io

import openpyxl
from openpyxl.cell import Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

_BOLD = Font(bold=True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"  # the mimetype of what the pages send


def new_book() -> openpyxl.Workbook:
    """A workbook without sheets: add_sheet makes them."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    return book


def add_sheet(book, title: str, header: tuple[str, ...], rows: list[tuple], widths: tuple[int, ...]):
    sheet = book.create_sheet(title)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = _BOLD
    for row in rows:
        append_row(sheet, row)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    return sheet


def append_row(sheet, row) -> None:
    """Append a row of values; text that starts with "=" (a product's name, a rule's, an address) stays text, never
    a formula that Excel would run. Every workbook the app writes appends its rows here."""
    sheet.append([_as_text(sheet, value) if isinstance(value, str) and value.startswith("=") else value
                  for value in row])


def _as_text(sheet, value: str) -> Cell:
    """A cell holding value as text: openpyxl would store it as a formula."""
    cell = Cell(sheet, value=value)
    cell.data_type = "s"
    return cell


def book_bytes(book) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

"""Uploaded spreadsheets: reading an .xlsx or .csv into rows of text, and keeping an upload between its preview and
the confirmation."""
import csv
import hashlib
import io
import re
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from flask_babel import gettext as _

from .errors import DomainError

# What a spreadsheet may hold: far more than a village's 花名册 (35,000 households are about 105,000 rows) or a rule
# book needs, and little enough that a file of empty rows or cells cannot exhaust a worker's memory.
MAX_ROWS = 300_000
MAX_COLUMNS = 64
_UPLOAD = re.compile(r"[0-9a-f]{64}")
_KEPT_SECONDS = 86400  # an uploaded file waits this long for its preview to be confirmed


@dataclass(frozen=True)
class RowError:
    row: int  # as numbered in the spreadsheet: the header is row 1
    column: str
    message: str


def read_table(data: bytes, max_bytes: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows (numbered as in the file) of an .xlsx or .csv (UTF-8 or GBK), each cell's text
    normalized (normalize_text).

    Raises DomainError("import_too_large" | "old_excel_format" | "unreadable_xlsx" | "too_many_rows" |
    "not_spreadsheet" | "unknown_encoding" | "bad_csv" | "empty_file").
    """
    if len(data) > max_bytes:
        raise DomainError("import_too_large", size=len(data) / 1048576, limit=max_bytes // 1048576)
    if data.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DomainError("old_excel_format")
    else:
        rows = _csv_rows(data)
    numbered = [(i, [normalize_text(c) for c in row]) for i, row in enumerate(rows, start=1)]
    numbered = [(i, row) for i, row in numbered if any(row)]
    if not numbered:
        raise DomainError("empty_file")
    _, header = numbered[0]
    return [h.replace("*", "").strip() for h in header], numbered[1:]


def read_columns(data: bytes, max_bytes: int, columns: tuple[str, ...], required: tuple[str, ...],
                 errors: list[RowError]) -> tuple[dict[str, int], list[tuple[int, list[str]]]] | None:
    """Where each of a template's columns is in the file (those it has), and its rows; None, with the reason in errors,
    for a file that cannot be read or lacks a required column."""
    try:
        header, rows = read_table(data, max_bytes)
    except DomainError as refusal:
        errors.append(RowError(0, "", refusal.message))
        return None
    missing = [c for c in required if c not in header]
    if missing:
        errors.append(RowError(1, "", _("缺少必填列：%(columns)s（请使用导入模板）", columns="、".join(missing))))
        return None
    return {name: header.index(name) for name in columns if name in header}, rows


def normalize_text(value) -> str:
    """What a person typed or a workbook holds: full-width digits, letters and spaces to half-width (NFKC), NUL
    characters dropped (PostgreSQL cannot store them), trimmed; None becomes ''."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).replace("\x00", "").strip()


def _xlsx_rows(data: bytes):
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise DomainError("unreadable_xlsx") from error
    sheet = workbook.worksheets[0]
    # The size a workbook declares (<dimension ref="A1:XFD2000"/>) is not trusted: openpyxl would pad every row to it,
    # gigabytes for a file of a few bytes. Only the cells present are read, up to MAX_COLUMNS a row.
    sheet.reset_dimensions()
    rows = []
    for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if number > MAX_ROWS:
            workbook.close()
            raise DomainError("too_many_rows", limit=MAX_ROWS)
        rows.append([_cell_text(c) for c in row] if any(c is not None for c in row) else [])
    workbook.close()
    return rows


def _cell_text(value) -> str:
    """Excel keeps phone numbers as numbers: 13812345678.0 is read as "13812345678"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _csv_rows(data: bytes):
    """CSV in UTF-8 or GBK, or Excel's "Unicode text" (UTF-16 with a byte-order mark, tab-separated)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    elif b"\x00" in data[:8192]:
        raise DomainError("not_spreadsheet")
    else:
        encodings = ("utf-8-sig", "gb18030")
    if data.count(b"\n") > MAX_ROWS:  # a row takes a line at least: refused before decoding megabytes of them
        raise DomainError("too_many_rows", limit=MAX_ROWS)
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("unknown_encoding")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    rows = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            if number > MAX_ROWS:
                raise DomainError("too_many_rows", limit=MAX_ROWS)
            rows.append(row[:MAX_COLUMNS])
    except csv.Error as error:
        raise DomainError("bad_csv") from error
    return rows


def keep_upload(folder: str, data: bytes) -> str:
    """Keep an uploaded file between its preview and the confirmation; returns its name (its SHA-256). Files kept
    longer than a day are deleted on the way."""
    kept = Path(folder) / "imports"
    kept.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in kept.glob("*.upload"):
        if old.stat().st_mtime < time.time() - _KEPT_SECONDS:
            old.unlink(missing_ok=True)
    name = hashlib.sha256(data).hexdigest()
    path = kept / f"{name}.upload"
    path.touch(mode=0o600)  # readable by the app's user only: a 花名册 holds phone and ID numbers
    path.write_bytes(data)
    return name


def kept_upload(folder: str, name: str) -> bytes | None:
    """The file kept under that name, or None (deleted, expired or never kept)."""
    if not _UPLOAD.fullmatch(name or ""):
        return None
    path = Path(folder) / "imports" / f"{name}.upload"
    if path.exists() and path.stat().st_mtime < time.time() - _KEPT_SECONDS:
        path.unlink(missing_ok=True)
    return path.read_bytes() if path.exists() else None


def drop_upload(folder: str, name: str) -> None:
    if _UPLOAD.fullmatch(name or ""):
        (Path(folder) / "imports" / f"{name}.upload").unlink(missing_ok=True)

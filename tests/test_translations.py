"""The English catalog: complete for every msgid in the code and templates, compiled, and used by pages and the API.

When a test here fails after a change to the UI, refresh the catalog:
    pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
    pybabel update -i translations/messages.pot -d translations --no-wrap --ignore-obsolete
    (translate the new entries in translations/en/LC_MESSAGES/messages.po)
    pybabel compile -d translations
"""
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from points.people.import_table import CARE_WORDS
from points.people.models import KIND_LABELS
from points.people.services import CARE_TAG_LABELS, CARE_TAG_WORDS

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}  # the -k _l of the pybabel extract command
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]")


def _po_catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def _extracted() -> dict[str, list[str]]:
    """Every msgid in points/ and templates/ as babel.cfg maps them, with where each is used."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def test_every_message_in_the_code_and_templates_has_an_english_translation():
    extracted = _extracted()
    assert len(extracted) > 100, "the extraction found too little; is babel.cfg right?"
    catalog = _po_catalog()
    missing = [
        f"{msgid!r} ({', '.join(places)})"
        for msgid, places in extracted.items()
        if catalog.get(msgid) is None or not catalog.get(msgid).string
    ]
    assert not missing, "not translated into English:\n" + "\n".join(missing)


def test_no_english_translation_is_fuzzy():
    fuzzy = [m.id for m in _po_catalog() if m.id and m.fuzzy]
    assert not fuzzy, "fuzzy (unchecked) translations, which gettext ignores:\n" + "\n".join(map(repr, fuzzy))


def test_compiled_catalog_matches_the_po_file():
    """The committed messages.mo is what `pybabel compile -d translations` makes of messages.po today."""
    compiled = io.BytesIO()
    write_mo(compiled, _po_catalog())
    compiled.seek(0)
    with MO.open("rb") as f:
        committed = read_mo(f)
    expected = {m.id: m.string for m in read_mo(compiled) if m.id}
    actual = {m.id: m.string for m in committed if m.id}
    stale = sorted(set(expected.items()) ^ set(actual.items()), key=str)
    assert not stale, ("messages.mo is out of date; run `pybabel compile -d translations`:\n"
                       + "\n".join(map(repr, stale)))


def test_translations_keep_the_placeholders_of_their_msgid():
    wrong = [
        f"{m.id!r} -> {m.string!r}"
        for m in _po_catalog()
        if m.id and m.string and Counter(PLACEHOLDER.findall(m.id)) != Counter(PLACEHOLDER.findall(m.string))
    ]
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_household_labels_are_translated_but_spreadsheets_are_parsed_in_chinese(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(KIND_LABELS[next(iter(KIND_LABELS))]) == "Registered resident"
        assert str(CARE_TAG_LABELS[next(iter(CARE_TAG_LABELS))]) == "Low income (dibao)"
        assert set(CARE_WORDS) == set(CARE_TAG_WORDS.values())
    with force_locale("zh_CN"):
        chinese = {tag: str(label) for tag, label in CARE_TAG_LABELS.items()}
    assert chinese == CARE_TAG_WORDS, "the care tags' labels and their spreadsheet words have drifted apart"


@pytest.mark.parametrize(
    ("url", "headers", "shown", "absent"),
    [
        ("/login", {"Accept-Language": "en"}, "Log in", "登录"),
        ("/login", {"Accept-Language": "en-GB,en;q=0.9"}, "Log in", "登录"),
        ("/login?lang=en", {}, "Log in", "登录"),
        ("/login", {}, "登录", "Log in"),
        ("/login", {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "登录", "Log in"),
    ],
)
def test_login_page_speaks_the_chosen_language(client, url, headers, shown, absent):
    page = client.get(url, headers=headers).get_data(as_text=True)
    assert shown in page
    assert absent not in page


def test_language_cookie_outlasts_the_browser_language(client):
    client.get("/lang/en")
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Log in" in page


@pytest.mark.parametrize(
    ("headers", "message"),
    [({"Accept-Language": "en"}, "Please log in first"), ({}, "请先登录")],
)
def test_api_errors_speak_the_chosen_language(client, headers, message):
    response = client.get("/api/v1/grids", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "login_required", "message": message}

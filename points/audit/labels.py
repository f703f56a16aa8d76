"""The audit log's words. Each domain gives its own at the end of its models module (which the app imports before it
serves): the actions it records, the keys of its before/after, and the words for its stored values; so a feature
names its changes where it makes them, and the log has no list of domains to keep."""
from collections.abc import Iterable, Mapping

from flask_babel import lazy_gettext as _l

ACTIONS: dict = {}  # action -> what it did, in words; record() refuses any other
VALUE_WORDS: dict = {}  # a stored enum value -> its word
# What the keys of before/after mean, for the log page; the keys several domains use are here.
FIELD_LABELS: dict = {
    "household": _l("户号"),
    "note": _l("备注"),
    "code": _l("编码"),
    "name": _l("名称"),
    "status": _l("状态"),
    "reason": _l("理由"),
    "grid": _l("网格"),
    "number": _l("户号"),
    "kind": _l("类型"),
    "active": _l("启用"),
    "created": _l("新增"),
    "revised": _l("修改"),
    "unchanged": _l("未变"),
    "changes": _l("变更处数"),
    "households": _l("户数"),
    "residents": _l("人数"),
    "period": _l("期间"),
    "week": _l("周次"),
    "early": _l("提前"),
    "entry": _l("积分记录"),
}


def register_words(*, actions: Mapping = {}, fields: Mapping = {}, values: Iterable[Mapping] = ()) -> None:
    """Add a domain's actions, before/after keys and enum labels (tables of enum member -> word)."""
    ACTIONS.update(actions)
    FIELD_LABELS.update(fields)
    for table in values:
        VALUE_WORDS.update({member.value: word for member, word in table.items()})

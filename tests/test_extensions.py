"""The hot paths' helpers of the session: a row inserted by a table's statement is the session's object as the ORM's
own insert would make it, and leaves the session when the savepoint it was inserted under is rolled back; rows the
session holds are not read again."""
from sqlalchemy import select

from points.extensions import add_unless_taken, db, fetch_all
from points.grids.models import GridNode, NodeKind

from .factories import unique


class Undone(Exception):
    """Rolls a savepoint back."""


def _town(code: str) -> dict:
    return dict(kind=NodeKind.TOWN, name="镇", code=code, depth=0)


def test_a_row_taken_already_is_none_and_a_new_one_the_session_s_object(app):
    code = unique("t")
    town = add_unless_taken(GridNode, _town(code))
    assert town in db.session and db.session.get(GridNode, town.id) is town and town.code == code
    assert add_unless_taken(GridNode, _town(code)) is None


def test_a_row_inserted_under_a_savepoint_rolled_back_leaves_the_session(app):
    kept = add_unless_taken(GridNode, _town(unique("t")))
    try:
        with db.session.begin_nested():
            with db.session.begin_nested():  # released into the savepoint rolled back: undone with it
                inner = add_unless_taken(GridNode, _town(unique("t")))
            outer = add_unless_taken(GridNode, _town(unique("t")))
            raise Undone
    except Undone:
        pass
    with db.session.begin_nested():  # released: kept
        released = add_unless_taken(GridNode, _town(unique("t")))

    assert inner not in db.session and outer not in db.session
    assert all(db.session.get(GridNode, undone.id) is not undone for undone in (inner, outer))
    assert kept in db.session and released in db.session
    db.session.commit()
    assert set(db.session.scalars(select(GridNode.id).where(GridNode.kind == NodeKind.TOWN))) >= {kept.id, released.id}


def test_fetch_all_reads_in_one_statement_only_what_the_session_does_not_hold(app, statements):
    held, first, second = (add_unless_taken(GridNode, _town(unique("t"))) for _ in range(3))
    ids = [held.id, first.id, second.id]
    db.session.commit()
    kept = db.session.get(GridNode, held.id)  # held, as this transaction read it
    db.session.expunge(first)
    db.session.expunge(second)
    statements.clear()
    found = fetch_all(GridNode, ids + [10**9])
    assert found[held.id] is kept and sorted(found) == sorted(ids)
    assert len(statements) == 1 and statements[0].split(" IN ")[1].count(",") == 2  # the three it did not hold

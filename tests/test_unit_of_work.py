"""One unit of work a request: a write that answers below 400 is committed, any other rolled back; a read commits
nothing it did not commit itself."""
import pytest
from flask import Response
from sqlalchemy import func, select

from points.extensions import add_unless_twin, db
from points.grids.models import GridNode, NodeKind
from points.unit_of_work import finish

from .factories import unique


def _towns_stored() -> int:
    with db.engine.connect() as connection:  # what another request would see
        return connection.scalar(select(func.count()).select_from(GridNode).where(GridNode.kind == NodeKind.TOWN))


def _flush_a_town() -> None:
    db.session.add(GridNode(kind=NodeKind.TOWN, name="镇", code=unique("t")))
    db.session.flush()


@pytest.mark.parametrize("method, status, kept", [
    ("POST", 201, True), ("POST", 302, True), ("PATCH", 200, True), ("DELETE", 204, True), ("PUT", 200, True),
    ("POST", 409, False), ("POST", 422, False), ("PATCH", 403, False), ("POST", 500, False),
])
def test_a_write_is_kept_only_when_it_succeeded(app, method, status, kept):
    with app.test_request_context("/", method=method):
        _flush_a_town()
        finish(Response(status=status))
        db.session.rollback()  # whatever finish() did not commit is gone now
    assert _towns_stored() == (1 if kept else 0)


def test_a_read_commits_nothing(app):
    with app.test_request_context("/", method="GET"):
        _flush_a_town()
        finish(Response(status=200))
        db.session.rollback()
    assert _towns_stored() == 0



def test_a_commit_that_fails_keeps_no_word_of_success(app, monkeypatch):
    from flask import flash, get_flashed_messages

    def refuse():
        raise RuntimeError("the database refused the commit")

    with app.test_request_context("/", method="POST"):
        flash("已保存")
        monkeypatch.setattr(db.session, "commit", refuse)
        with pytest.raises(RuntimeError):
            finish(Response(status=302))
        assert get_flashed_messages() == []


def test_a_row_added_under_a_savepoint_first_is_rolled_back_with_the_request(app):
    """add_unless_twin's savepoint may be a request's first write: on SQLite it must still lie inside the request's
    transaction (Python's sqlite3 would make it the transaction, and its release a commit), so that a refusal later
    in the request undoes it."""
    db.session.commit()
    with app.test_request_context("/", method="POST"):
        assert add_unless_twin(GridNode(kind=NodeKind.TOWN, name="镇", code=unique("t")), lambda: None) is None
        assert _towns_stored() == 0  # nobody else sees it before the commit
        finish(Response(status=409))
    assert _towns_stored() == 0

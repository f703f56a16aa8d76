"""The demo's month of 微心愿: care-tagged households' wishes over the past month, some open, some adopted, some lit
with a photo; made once."""
import os
from collections import Counter

from flask import current_app
from sqlalchemy import func, select

from points import demo
from points.extensions import db
from points.ledger.models import EntrySource, LedgerEntry
from points.people.models import HouseholdCareTag
from points.timeutil import utcnow
from points.wishes.models import Wish, WishStatus
from points.wishes.sample import sample_wishes


def test_the_demo_wishes(app):
    village = demo._build_village()
    demo._ensure_users(village)
    sample_wishes(village)
    db.session.commit()
    wishes = list(db.session.scalars(select(Wish).order_by(Wish.id)))
    assert len(wishes) == 10
    statuses = Counter(w.status for w in wishes)
    assert statuses == {WishStatus.OPEN: 3, WishStatus.ADOPTED: 2, WishStatus.FULFILLED: 1, WishStatus.LIT: 4}
    tagged = set(db.session.scalars(select(HouseholdCareTag.household_id)))
    assert all(w.household_id in tagged for w in wishes)
    assert all((utcnow() - w.created_at).days <= 30 for w in wishes)
    lit = [w for w in wishes if w.status is WishStatus.LIT]
    for wish in lit:
        assert os.path.isfile(os.path.join(current_app.config["UPLOAD_FOLDER"], wish.photo.filename))
    earned = [w for w in lit if w.entry_id is not None]
    assert len(earned) == 3 and [w.no_points for w in lit if w.entry_id is None] == ["wish_not_resident"]
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.source == EntrySource.WISH)) == 3

    sample_wishes(village)  # again: nothing more
    assert db.session.scalar(select(func.count()).select_from(Wish)) == 10

"""Many people tapping 我来认领 on one wish at once: exactly one adopts it, the others are told it was taken.
On SQLite and PostgreSQL, threads each with their own session, as requests would be."""
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from points.audit.models import AuditEvent
from points.auth.models import Role, User
from points.errors import DomainError
from points.extensions import db
from points.rules.models import RuleCategory
from points.wishes import services
from points.wishes.models import Wish, WishStatus

from .. import factories

ROUNDS = 4
RACERS = 5


def test_of_five_adopting_at_once_exactly_one_wins(app, village):
    worker = factories.gen_user(Role.GRID_WORKER, village.grids[0])
    rule = factories.gen_rule(village.village, "邻里互助", 5, category=RuleCategory.MUTUAL_AID)
    elder = factories.gen_household(village.grids[0], "王阿婆")
    racers = [factories.gen_villager(factories.gen_household(village.grids[i % 3], f"户主{i}")).id
              for i in range(RACERS)]
    db.session.commit()
    for round_number in range(ROUNDS):
        wish_id = services.post_wish(worker, elder.id, f"心愿{round_number}", "", rule.id).id
        db.session.commit()
        barrier = threading.Barrier(RACERS)

        def adopt(user_id):
            with app.app_context():
                barrier.wait()
                try:
                    services.adopt_wish(db.session.get(User, user_id), wish_id)
                    db.session.commit()
                    return "adopted"
                except DomainError as refusal:
                    db.session.rollback()
                    return refusal.code

        with ThreadPoolExecutor(RACERS) as pool:
            outcomes = list(pool.map(adopt, racers))
        db.session.expire_all()
        wish = db.session.get(Wish, wish_id)
        assert sorted(outcomes) == ["adopted"] + ["wish_taken"] * (RACERS - 1), outcomes
        assert wish.status is WishStatus.ADOPTED
        assert wish.adopter_id == racers[outcomes.index("adopted")]
        audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.subject_type == "wish", AuditEvent.subject_id == wish_id, AuditEvent.action == "wish.adopted"))
        assert audited == 1

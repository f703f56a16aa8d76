"""What publishing a week or a month posts: the ledger brought to the awards and penalties its results call for
(a correction reverses and re-posts only what changed), and the publication kept and audited. Functions flush and
never commit."""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import false, insert, select
from sqlalchemy.orm import joinedload

from ..audit.services import record
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..ledger.models import EntrySource
from ..ledger.services import Movement, post_entries, reversal_of
from ..people.models import Household
from ..periods import month_week, parse_week
from ..rules.models import RuleCategory, RuleVersion
from .models import Posting, Publication


@dataclass(frozen=True)
class Award:
    amount: int
    grid_id: int
    note: str
    rule_version: RuleVersion | None = None


def settle_postings(
    actor: User, village_id: int, period: str, grid_ids: list[int] | None, desired: dict, day: date,
    households=None,
) -> tuple[int, int]:
    """Bring the entries published for period (in grid_ids, and wherever for the households query; grid_ids None:
    the whole village) to desired: (household, outcome) → Award. An entry that no longer matches is reversed; a
    missing one is posted, under a key that counts the household's earlier postings of that outcome, so that a
    re-post after a reversal is a new entry and a retry of the same publication is not. The ledger posts them all in
    one batch."""
    query = select(Posting).where(Posting.village_id == village_id, Posting.period == period)
    if grid_ids is not None:
        placed = Posting.household_id.in_(households) if households is not None else false()
        query = query.where(Posting.grid_id.in_(grid_ids) | placed)
    postings = list(db.session.scalars(query.options(joinedload(Posting.entry))
                                       .order_by(Posting.household_id, Posting.id)))
    # What a household that has left the register was given stays with it: it is out of the rankings from then on,
    # which takes nothing back.
    closed = set(db.session.scalars(select(Household.id).where(
        Household.id.in_({p.household_id for p in postings}), Household.closed_on.is_not(None)))) if postings else set()
    earlier = defaultdict(int)
    keep, withdraw = set(), []
    for posting in postings:
        earlier[(posting.household_id, posting.outcome)] += 1
        if posting.reversal_id is not None or posting.household_id in closed:
            continue
        want = desired.get((posting.household_id, posting.outcome))
        entry = posting.entry
        if want is not None and (want.amount, want.grid_id, want.rule_version and want.rule_version.id) == (
            entry.amount, posting.grid_id, entry.rule_version_id
        ):
            keep.add((posting.household_id, posting.outcome))
        else:
            withdraw.append(posting)
    # Per household, the reversal before the re-post: a household's entries keep the order they happened in.
    changes = sorted([(p.household_id, 0, p) for p in withdraw] +
                     [(h, 1, (h, o)) for (h, o) in desired if (h, o) not in keep], key=lambda c: (c[0], c[1]))
    movements = []
    for household_id, is_post, item in changes:
        if not is_post:
            movements.append(reversal_of(item.entry_id, f"hygiene-undo:{item.entry_id}",
                                         f"{period_name(period)} 评比更正",
                                         correction=True))
            continue
        award = desired[item]
        key = f"hygiene:{village_id}:{period}:{item[1].value}:{household_id}:{earlier[item]}"
        movements.append(Movement(household_id, award.amount, EntrySource.INSPECTION, key,
                                  rule_version=award.rule_version, category=RuleCategory.HYGIENE, note=award.note,
                                  occurred_on=day))
    entries = post_entries(movements, actor)
    rows = []
    for (household_id, is_post, item), entry in zip(changes, entries):
        if is_post:
            rows.append(dict(village_id=village_id, period=period, household_id=household_id, outcome=item[1],
                             grid_id=desired[item].grid_id, entry_id=entry.id))
        else:
            item.reversal_id = entry.id
    if rows:
        db.session.execute(insert(Posting), rows)
    db.session.flush()
    return len(rows), len(withdraw)


def period_name(period: str) -> str:
    """A period as the notes of its entries and the exports name it, in Chinese whatever the page's language (notes
    are stored): 2026年12月第2周 for W2026-W50, 2026-12 for M2026-12."""
    if period.startswith("M"):
        return period[1:]
    return "{}年{}月第{}周".format(*month_week(parse_week(period[1:])))


def earlier_publication(actor: User, client_key: str | None, village_id: int, period: str,
                         grid_id: int | None) -> Publication | None:
    if not client_key:
        return None
    found = db.session.scalar(select(Publication).where(Publication.actor_id == actor.id,
                                                        Publication.client_key == client_key))
    if found is not None and (found.village_id, found.period, found.grid_id) != (village_id, period, grid_id):
        raise DomainError("idempotency_key_reused", status=409)
    return found


def record_publication(actor: User, client_key: str | None, village_id: int, period: str, grid_id: int | None,
                 posted: int, reversed_: int, subject: tuple[str, int], grids: int,
                 unscored: dict[str, int] | None = None) -> Publication:
    """Keeps and audits the publication; unscored (grid name → households without a sheet): published early."""
    publication = Publication(village_id=village_id, period=period, grid_id=grid_id, actor_id=actor.id,
                              client_key=client_key, posted=posted, reversed=reversed_)
    db.session.add(publication)
    db.session.flush()
    after = {"period": period, "grids": grids, "posted": posted, "reversed": reversed_}
    if unscored:
        # Stored as the log shows it, in Chinese as the entries' notes are: 第三网格 149 户、第四网格 2 户.
        after |= {"early": True, "unscored_households": [f"{name} {n} 户" for name, n in unscored.items()]}
    record(actor, "hygiene.published_early" if unscored else "hygiene.published", subject[0], subject[1],
           grid_id or village_id, after=after)
    return publication

"""户卡 issued: a grid's cards as staff see them, 发放户卡 for the households without one, and 补办 of one household's
card; each checks MANAGE_CARDS. Functions flush and never commit."""
import secrets

from sqlalchemy import func, select, update

from ..audit.services import record
from ..extensions import db
from ..grids.models import GridNode
from ..people.cards import current_cards
from ..people.models import Household, HouseholdCard
from ..timeutil import utcnow
from . import policy
from .models import User


def issue_card(actor: User, household: Household, replacing: int | None = None) -> HouseholdCard | None:
    """A new card for the household (补办): the one before it is revoked. With replacing, the serial of the card the
    page showed: once that card is revoked (a second tap, a page sent again) nothing more is, and None is returned,
    so a card just printed is never voided by an old form. Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, household.grid_id)
    return _issue(actor, household, replacing)


def _issue(actor: User | None, household: Household, replacing: int | None = None) -> HouseholdCard | None:
    now = utcnow()
    revoke = update(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                         HouseholdCard.revoked_at.is_(None))
    if replacing is not None:
        revoke = revoke.where(HouseholdCard.serial == replacing)
    # The row lock of this update makes a twin request wait, then find the card revoked.
    if db.session.execute(revoke.values(revoked_at=now)).rowcount == 0 and replacing is not None:
        return None
    serial = db.session.scalar(select(func.coalesce(func.max(HouseholdCard.serial), 0))
                               .where(HouseholdCard.household_id == household.id)) + 1
    card = HouseholdCard(household_id=household.id, serial=serial, code=secrets.token_hex(6).upper(),
                         issued_by_id=actor.id if actor else None, issued_at=now)
    db.session.add(card)
    db.session.flush()
    record(actor, "card.issued", "household", household.id, household.grid_id,
           after={"household": household.number, "serial": serial})
    return card


def cards_of_grid(actor: User, grid: GridNode) -> tuple[list[HouseholdCard], list[Household]]:
    """户卡 of a grid, read only: the current card of each household that has one, and the households without one,
    both in household-number order. Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, grid.id)
    households = db.session.scalars(select(Household).where(Household.grid_id == grid.id)
                                    .order_by(Household.number)).all()
    current = current_cards(grid.id)
    return [current[h.id] for h in households if h.id in current], [h for h in households if h.id not in current]


def issue_missing_cards(actor: User, grid: GridNode) -> list[HouseholdCard]:
    """发放户卡: a first card for each household of the grid that has no current card; a second call issues none.
    Raises Forbidden."""
    policy.require(actor, policy.Permission.MANAGE_CARDS, grid.id)
    # The write that locks the grid's households (on SQLite, the database) before the cards are read: two staff
    # pressing the button at once do not each issue the same households.
    db.session.execute(update(Household).where(Household.grid_id == grid.id).values(grid_id=Household.grid_id))
    households = db.session.scalars(select(Household).where(Household.grid_id == grid.id)
                                    .order_by(Household.number)).all()
    current = current_cards(grid.id)
    return [_issue(actor, h) for h in households if h.id not in current]

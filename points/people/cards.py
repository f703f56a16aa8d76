"""户卡 read: what a household card's QR holds, the household a scanned card is of, and a household's (or a grid's)
current cards. Issuing them checks permission and lives in auth/cards.py."""
from flask import current_app
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from .models import Household, HouseholdCard

CARD_PREFIX = "HC"


def _card_signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="household-card")


def card_text(card: HouseholdCard) -> str:
    """What the card's QR holds: HC-<random code>.<signature>; nothing about the household."""
    return _card_signer().sign(f"{CARD_PREFIX}-{card.code}").decode()


def household_of_card(text: str) -> Household:
    """The household of a scanned card. Raises DomainError("invalid_card" | "card_revoked")."""
    try:
        value = _card_signer().unsign(text.strip()).decode()
    except (BadSignature, UnicodeError):
        raise DomainError("invalid_card") from None
    code = value.removeprefix(f"{CARD_PREFIX}-")
    card = db.session.scalar(select(HouseholdCard).where(HouseholdCard.code == code))
    if card is None:
        raise DomainError("invalid_card")
    if card.revoked_at is not None:
        raise DomainError("card_revoked", status=409, serial=card.serial)
    return card.household


def card_of_household(household: Household) -> HouseholdCard | None:
    """The household's current card, if it has one."""
    return db.session.scalar(select(HouseholdCard).where(HouseholdCard.household_id == household.id,
                                                         HouseholdCard.revoked_at.is_(None)))


def current_cards(grid_id: int) -> dict[int, HouseholdCard]:
    """The current card of each household of the grid that has one, by household id."""
    return {c.household_id: c for c in db.session.scalars(
        select(HouseholdCard).join(Household).where(Household.grid_id == grid_id, HouseholdCard.revoked_at.is_(None)))}

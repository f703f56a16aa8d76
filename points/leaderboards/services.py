"""The one write of the leaderboards: a village's 红黑榜 settings. (The rankings themselves are reads of the period
totals that the ledger keeps.)"""
from ..audit.services import record
from ..auth import policy
from ..auth.models import User
from ..errors import DomainError
from ..extensions import db
from ..grids.models import GridNode
from .models import BoardSettings
from .queries import board_settings

MAX_COUNT = 50  # the longest 红榜 or 黑榜 a village may list


def update_board_settings(actor: User, village: GridNode, red_count: int, black_count: int) -> BoardSettings:
    """How many households the village's 红榜 lists (1–50), and its 黑榜 (0 for none, up to 50).

    Raises Forbidden, DomainError("setting_out_of_range")."""
    policy.require(actor, policy.Permission.MANAGE_BOARDS, village.id)
    for value, low in ((red_count, 1), (black_count, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_COUNT:
            raise DomainError("setting_out_of_range", low=low, high=MAX_COUNT)
    settings = board_settings(village.id)
    before = {"red_count": settings.red_count, "black_count": settings.black_count}
    settings.red_count, settings.black_count = red_count, black_count
    db.session.add(settings)
    db.session.flush()
    record(actor, "boards.settings", "village", village.id, village.id, before=before,
           after={"red_count": red_count, "black_count": black_count})
    return settings

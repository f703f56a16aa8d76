"""Imports every domain's models so that the metadata (and Alembic) sees the whole schema."""
from .audit.models import AuditEvent  # noqa: F401
from .auth.models import ApiToken, Role, RoleAssignment, User  # noqa: F401
from .claims.models import Appeal, AppealStatus, Claim, ClaimPhoto, ClaimStatus  # noqa: F401
from .events.models import Attendance, Event, EventSeries, EventSettings  # noqa: F401
from .grids.models import GridNode, GridPath, NodeKind  # noqa: F401
from .hygiene.models import (  # noqa: F401
    Assignment,
    ChecklistItem,
    Deduction,
    HygieneSettings,
    InspectionRound,
    MonthlyResult,
    MonthlySummary,
    Posting,
    Publication,
    Result,
    Score,
)
from .leaderboards.models import BoardSettings  # noqa: F401
from .ledger.models import DutyRecord, EntrySource, HouseholdBalance, LedgerEntry, PeriodTotal  # noqa: F401
from .messages.models import InboxMark, Message  # noqa: F401
from .people.models import CareTag, Household, HouseholdCard, HouseholdCareTag, HouseholdKind, Resident  # noqa: F401
from .reports import models as reports_models  # noqa: F401
from .rules.models import Rule, RuleCategory, RuleUnit, RuleVersion, RuleVersionRole  # noqa: F401
from .shop.models import Product, Redemption, RedemptionLine, Shop, StockMovement  # noqa: F401
from .visits import models as visits_models  # noqa: F401
from .wishes import models as wishes_models  # noqa: F401

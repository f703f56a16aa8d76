"""Builders of test data through the services: gen_village, gen_household, gen_user, gen_villager, gen_rule,
gen_shop, gen_product, gen_points; and gen_workbook, the spreadsheet a clerk would upload."""
import io
import itertools
from dataclasses import dataclass
from datetime import date

import openpyxl

from points.auth import services as auth_services
from points.auth.models import Role, User
from points.grids.models import GridNode, NodeKind
from points.grids.services import create_node
from points.ledger.models import EntrySource
from points.ledger.services import post_entry
from points.people.models import CareTag, Household, HouseholdKind
from points.people.services import create_household, with_id_checksum
from points.rules.models import Rule, RuleCategory
from points.rules.services import RuleTerms, create_rule
from points.shop.models import Product, Shop
from points.shop.services import ProductTerms, create_product, create_shop

PASSWORD = "secret-pass-1"
_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


def gen_id_number() -> str:
    """A valid 18-character ID number, different each call."""
    return with_id_checksum(f"350582199001{next(_serial) % 100000:05d}")


@dataclass
class Village:
    town: GridNode
    village: GridNode
    grids: list[GridNode]


def gen_village(grids: int = 3, town: GridNode | None = None, name: str | None = None) -> Village:
    town = town or create_node(unique("镇"), unique("town"), NodeKind.TOWN)
    code = unique("v")
    village = create_node(name or unique("村"), code, NodeKind.VILLAGE, town)
    nodes = [create_node(f"第{i}网格", f"{code}-{i}", NodeKind.GRID, village) for i in range(1, grids + 1)]
    return Village(town, village, nodes)


def gen_household(
    grid: GridNode,
    head_name: str = "张三明",
    kind: HouseholdKind = HouseholdKind.REGISTERED,
    phone: str | None = "13812345678",
    id_number: str | None = None,
    care_tags: list[CareTag] = (),
) -> Household:
    return create_household(
        grid,
        address=unique("门牌"),
        kind=kind,
        head_name=head_name,
        head_phone=phone,
        head_id_number=id_number,
        care_tags=list(care_tags),
    )


def gen_user(role: Role | None = None, node: GridNode | None = None, username: str | None = None) -> User:
    user = auth_services.create_user(username or unique("user"), PASSWORD)
    if role is not None:
        auth_services.assign_role(None, user, role, node)
    return user


def gen_villager(household: Household, username: str | None = None) -> User:
    return auth_services.create_user(username or unique("villager"), PASSWORD, resident=household.head)


STAFF = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.VILLAGE_ADMIN})


def gen_rule(
    village: GridNode,
    name: str = "庭院整洁",
    points: int = 5,
    category: RuleCategory = RuleCategory.HYGIENE,
    code: str | None = None,
    effective_from: date = date(2026, 1, 1),
    **terms,
) -> Rule:
    """A rule of the village's book, applicable by grid workers, leaders and the village admin unless roles= says."""
    terms.setdefault("roles", STAFF)
    return create_rule(village, code or unique("R"), RuleTerms(name, category, points, **terms), effective_from)


def gen_shop(village: GridNode, name: str = "积分超市") -> Shop:
    return create_shop(gen_user(Role.VILLAGE_ADMIN, village), village, name)


def gen_product(shop: Shop, name: str = "洗衣液", price: int = 10, stock: int = 20, unit: str = "瓶") -> Product:
    admin = gen_user(Role.VILLAGE_ADMIN, shop.village)
    return create_product(admin, shop, ProductTerms(name, unit, price), stock=stock)


def gen_points(household: Household, amount: int) -> None:
    """Points for the household to spend (a manual award under no rule)."""
    post_entry(household.id, amount, EntrySource.MANUAL, unique("gift-"))


def gen_photo(fmt: str = "JPEG", size: tuple[int, int] = (2400, 1800), gps: bool = True) -> bytes:
    """A photo as a phone would send it: large, and (for JPEG) with EXIF that includes a GPS position."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, (90, 140, 60))
    out = io.BytesIO()
    if fmt == "JPEG" and gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x0112] = 6  # Orientation: rotated 90°, as phones held upright write it
        exif.get_ifd(0x8825).update({1: "N", 2: (24.0, 36.0, 1.0), 3: "E", 4: (118.0, 27.0, 2.0)})  # GPS
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()


def forged(signed: str) -> str:
    """signed with the first character of its signature changed: it carries six bits of the signature (the last
    character's lowest bits are padding, so changing it may change nothing)."""
    value, signature = signed.rsplit(".", 1)
    return f"{value}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def gen_workbook(header, rows) -> bytes:
    """An .xlsx of one sheet: the header row over the rows, as a clerk fills in a template."""
    book = openpyxl.Workbook()
    book.active.append(list(header))
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

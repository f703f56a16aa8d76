"""The demo village, modelled on 瑶前村 (安海镇): ~450 households, ~1,500 people, 3 grids, its rule book,
fixed demo accounts."""
import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from .auth import policy
from .auth import services as auth_services
from .auth.cards import issue_card
from .auth.models import Role, User
from .claims import services as claims
from .errors import DomainError
from .events import checkins
from .events import services as events
from .events.models import CheckinMode, Event
from .extensions import db
from .grids.models import GridNode, NodeKind
from .grids.services import create_node
from .hygiene import inspection, monthly, publishing, village_settings
from .leaderboards.models import BoardSettings
from .leaderboards.services import update_board_settings
from .ledger.models import EntrySource, LedgerEntry
from .ledger.queries import balance_of
from .ledger.services import apply_rule, post_entry
from .people.cards import card_of_household, card_text
from .people.models import CareTag, Household, HouseholdKind, Resident
from .people.services import add_resident, create_household, with_id_checksum
from .periods import last_monday, month_of_week, month_weeks_end, parse_month, week_of
from .reports.sample import sample_reports
from .rules.models import Rule, RuleUnit
from .rules.models import RuleCategory as C
from .rules.services import RuleTerms, create_rule
from .shop import services as shop_services
from .shop.models import Shop
from .timeutil import local_today, utcnow
from .visits.sample import sample_visits
from .wishes.sample import sample_wishes

DEMO_PASSWORD = "demo12345"
TOWN_CODE, VILLAGE_CODE = "anhai", "yaoqian"
GRID_NAMES = ("第一网格", "第二网格", "第三网格")
HOUSEHOLDS = 450

SURNAMES = "姚姚姚姚许许许陈陈林林黄王吴蔡洪颜张李郑"
MALE = "建国志明伟强文华俊杰永福金水清源德辉荣海天"
FEMALE = "秀英丽娟美玲素珍桂芳雅婷淑惠月娥春梅丽华"
STREETS = ("前街", "后街", "东路", "西路", "南巷", "北巷", "中心路", "榕树下")
RELATIONS = ("配偶", "子女", "子女", "父母", "孙子女")
CARE_PLAN = (
    (CareTag.LOW_INCOME,),
    (CareTag.EMPTY_NEST,),
    (CareTag.EMPTY_NEST, CareTag.DISABLED),
    (CareTag.LEFT_BEHIND_CHILD,),
    (CareTag.POOR, CareTag.LOW_INCOME),
    (CareTag.DISABLED,),
)


def load_demo() -> str:
    """Creates what is missing of the demo; running it again changes nothing. Flushes, never commits.

    Only into an empty database or one the demo built: its accounts, with a password printed in the README,
    must never appear beside a real village. Raises DomainError("demo_needs_empty_database").
    """
    village = db.session.scalar(select(GridNode).where(GridNode.code == VILLAGE_CODE))
    if village is None:
        if db.session.scalar(select(GridNode.id).limit(1)) or db.session.scalar(select(User.id).limit(1)):
            raise DomainError("demo_needs_empty_database")
        village = _build_village()
    _ensure_users(village)
    # The events before the other postings: their attendees are paid in full, and a posting that would pass a
    # rule's cap on a day of an event is the one left out.
    if not db.session.scalar(select(Event.id).where(Event.village_id == village.id).limit(1)):
        _build_events(village)
    if not db.session.scalar(select(LedgerEntry.id).join(Household).where(
            Household.village_id == village.id, LedgerEntry.source == EntrySource.MANUAL).limit(1)):
        _build_activity(village)
    if not db.session.scalar(select(Shop.id).where(Shop.village_id == village.id).limit(1)):
        _build_shop(village)
    for sample in (sample_reports, sample_wishes, sample_visits):  # the grid's own work of the past month
        sample(village)
    if db.session.get(BoardSettings, village.id) is None:  # a 红榜 of 10 and a 黑榜 of 5, to show both
        update_board_settings(db.session.scalar(select(User).where(User.username == "cunwei")), village, 10, 5)
    households = db.session.scalar(
        select(func.count()).select_from(Household).where(Household.village_id == village.id))
    residents = db.session.scalar(
        select(func.count()).select_from(Resident).join(Household, Resident.household_id == Household.id)
        .where(Household.village_id == village.id)
    )
    return f"演示村 {village.name}（编码 {village.code}）：{households} 户，{residents} 人"


def _build_village() -> GridNode:
    rng = random.Random(2026)
    town = create_node("安海镇", TOWN_CODE, NodeKind.TOWN)
    village = create_node("瑶前村", VILLAGE_CODE, NodeKind.VILLAGE, town)
    grids = [create_node(name, f"{VILLAGE_CODE}-{i}", NodeKind.GRID, village) for i, name in enumerate(GRID_NAMES, 1)]
    _build_rule_book(village)
    serial = 0
    for index in range(HOUSEHOLDS):
        grid = grids[index * len(grids) // HOUSEHOLDS]
        renter = index % 11 == 5
        surname = rng.choice(SURNAMES)
        care = CARE_PLAN[(index // 37) % len(CARE_PLAN)] if index % 37 == 3 else ()
        serial += 1
        household = create_household(
            grid,
            address=f"瑶前村{rng.choice(STREETS)}{rng.randint(1, 120)}号"
            + (f"（出租屋 {rng.randint(1, 6)} 室）" if renter else ""),
            kind=HouseholdKind.RENTER if renter else HouseholdKind.REGISTERED,
            head_name=_name(rng, surname, male=rng.random() < 0.8),
            head_phone=_phone(rng),
            head_id_number=_id_number(rng, serial, 1950, 1990),
            care_tags=list(care),
        )
        for _ in range(_household_size(rng, renter) - 1):
            serial += 1
            relation = rng.choice(RELATIONS)
            add_resident(
                household,
                _name(rng, surname if relation != "配偶" else rng.choice(SURNAMES), male=rng.random() < 0.5),
                relation,
                _phone(rng) if rng.random() < 0.6 else None,
                _id_number(rng, serial, 1940, 2018) if rng.random() < 0.7 else None,
            )
    return village


ADMIN, LEADER, WORKER, ORGANIZER = Role.VILLAGE_ADMIN, Role.GRID_LEADER, Role.GRID_WORKER, Role.EVENT_ORGANIZER
RULE_BOOK_START = date(2026, 1, 1)
# 《瑶前村村民积分细则》 and 《瑶前村外来租住人员积分细则》 in one book: each rule says whom it applies to. The
# weekly 示范户 (+20) and the monthly 流动红旗 (+50) are the 卫生评比's settings, posted when results are published.
RULE_BOOK = (
    ("HYG-YARD", RuleTerms("门前三包、庭院整洁（拍照申报）", C.HYGIENE, 5, cap_week=10, evidence_required=True,
                           self_claimable=True, roles=frozenset({LEADER, WORKER}))),
    ("HYG-PILE", RuleTerms("乱堆乱放", C.HYGIENE, -10, roles=frozenset({ADMIN, LEADER, WORKER}))),
    ("HYG-LITTER", RuleTerms("乱扔垃圾、污水乱排", C.HYGIENE, -5, roles=frozenset({ADMIN, LEADER, WORKER}))),
    ("HYG-POULTRY", RuleTerms("禽畜散养、未圈养", C.HYGIENE, -10, roles=frozenset({ADMIN, LEADER, WORKER}))),
    ("VOL-HOUR", RuleTerms("志愿服务（按小时）", C.VOLUNTEERING, 5, RuleUnit.HOUR, cap_day=20,
                           roles=frozenset({ORGANIZER, LEADER}))),
    ("VOL-CLEANUP", RuleTerms("参加环境整治日（每月第三周六）", C.VOLUNTEERING, 10, cap_month=10,
                              roles=frozenset({ORGANIZER, LEADER}))),
    ("VR-GAMBLE", RuleTerms("参与赌博", C.VILLAGE_RULES, -20, roles=frozenset({ADMIN}))),
    ("VR-BURN", RuleTerms("露天焚烧秸秆、垃圾", C.VILLAGE_RULES, -10, roles=frozenset({ADMIN, LEADER}))),
    ("VR-SIMPLE", RuleTerms("红白喜事简办", C.VILLAGE_RULES, 10, cap_year=20, evidence_required=True,
                            self_claimable=True, roles=frozenset({ADMIN}))),
    ("AID-HELP", RuleTerms("帮扶困难户、关爱空巢老人", C.MUTUAL_AID, 5, cap_month=20, evidence_required=True,
                           self_claimable=True, roles=frozenset({LEADER, WORKER}))),
    ("AID-MEDIATE", RuleTerms("协助调解邻里纠纷", C.MUTUAL_AID, 10, cap_month=20, roles=frozenset({LEADER}))),
    ("PUB-HAZARD", RuleTerms("报告安全隐患（经核实）", C.PUBLICITY, 5, cap_month=15, self_claimable=True,
                             roles=frozenset({LEADER, WORKER}))),
    ("PUB-MEETING", RuleTerms("参加村民代表会议、政策宣讲", C.PUBLICITY, 2, cap_week=4,
                              roles=frozenset({ADMIN, LEADER, WORKER}))),
    ("GRID-VISIT", RuleTerms("网格员入户走访关爱对象", C.GRID_DUTY, 2, cap_week=10, roles=frozenset({LEADER}))),
    ("GRID-REPORT", RuleTerms("网格员及时上报民情事件", C.GRID_DUTY, 3, cap_month=15, roles=frozenset({LEADER}))),
    ("RENT-REGISTER", RuleTerms("外来人员主动登记居住信息", C.VILLAGE_RULES, 5, cap_year=5, for_registered=False,
                                self_claimable=True, roles=frozenset({LEADER, WORKER}))),
    ("RENT-UNREGISTERED", RuleTerms("外来人员未按时登记居住信息", C.VILLAGE_RULES, -10, for_registered=False,
                                    roles=frozenset({ADMIN, LEADER, WORKER}))),
)


def _build_rule_book(village: GridNode) -> None:
    for code, terms in RULE_BOOK:
        create_rule(village, code, terms, RULE_BOOK_START)


def _household_size(rng: random.Random, renter: bool) -> int:
    return rng.choice((1, 2, 2, 3)) if renter else rng.choice((1, 2, 3, 3, 4, 4, 4, 5, 5, 6))


def _name(rng: random.Random, surname: str, male: bool) -> str:
    pool = MALE if male else FEMALE
    return surname + "".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "150", "159", "186", "187", "135")) + f"{rng.randrange(10**8):08d}"


def _id_number(rng: random.Random, serial: int, first_year: int, last_year: int) -> str:
    birth = f"{rng.randint(first_year, last_year)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return with_id_checksum(f"350582{birth}{serial % 1000:03d}")


def _ensure_users(village: GridNode) -> None:
    town = db.session.get(GridNode, village.parent_id)
    grids = list(
        db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id).order_by(GridNode.id))
    )
    staff = [
        ("admin", "镇管理员", Role.TOWN_ADMIN, town),
        ("cunwei", "村两委", Role.VILLAGE_ADMIN, village),
        ("leader1", "第一网格长", Role.GRID_LEADER, grids[0]),
        ("leader2", "第二网格长", Role.GRID_LEADER, grids[1]),
        ("leader3", "第三网格长", Role.GRID_LEADER, grids[2]),
        ("worker1", "第一网格员", Role.GRID_WORKER, grids[0]),
        ("clerk", "共享驿站店员", Role.SHOP_CLERK, village),
        ("organizer", "活动组织者", Role.EVENT_ORGANIZER, village),
    ]
    for username, name, role, node in staff:
        if not _exists(username):
            user = auth_services.create_user(username, DEMO_PASSWORD, name)
            auth_services.assign_role(None, user, role, node)
    # villager1…5: heads of five households spread over the three grids, each with a phone.
    for number, grid in enumerate((grids[0], grids[0], grids[1], grids[1], grids[2]), start=1):
        username = f"villager{number}"
        if _exists(username):
            continue
        taken = select(User.resident_id).where(User.resident_id.is_not(None))
        head = db.session.scalar(
            select(Resident)
            .join(Household, Household.head_id == Resident.id)
            .where(Household.grid_id == grid.id, Household.kind == HouseholdKind.REGISTERED, Resident.id.not_in(taken))
            .order_by(Household.number)
        )
        auth_services.create_user(username, DEMO_PASSWORD, resident=head)


# (rule code, households per grid per week, quantity range): the past four weeks of an ordinary village.
WEEKLY_ACTIVITY = (
    ("HYG-PILE", 2, (1, 1)),
    ("HYG-LITTER", 2, (1, 1)),
    ("VOL-HOUR", 8, (1, 4)),
    ("PUB-MEETING", 10, (1, 1)),
    ("AID-HELP", 2, (1, 1)),
)


def _build_activity(village: GridNode) -> None:
    """Four weeks of postings by the demo's staff (each under a rule their role may apply), and the claims and
    appeals of villager1…3, so that every page has something to show. The first posting of each kind in each grid
    is today's: whatever day the demo is loaded on (a Monday, the 1st), this week and this month have points."""
    rng = random.Random(47)
    today = local_today()
    grids = list(db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id).order_by(GridNode.id)))
    staff = [db.session.scalar(select(User).where(User.username == name))
             for name in ("cunwei", "leader1", "leader2", "leader3", "worker1", "organizer")]
    rules = {code: db.session.scalar(select(Rule).where(Rule.village_id == village.id, Rule.code == code))
             for code, _ in RULE_BOOK}
    _carry_over(village, staff[0])
    for week in range(4):
        for grid in grids:
            households = list(db.session.scalars(
                select(Household).where(Household.grid_id == grid.id, Household.kind == HouseholdKind.REGISTERED)
                .order_by(Household.number)))
            for code, per_week, (low, high) in WEEKLY_ACTIVITY:
                for index, household in enumerate(rng.sample(households, per_week)):
                    days_back = 7 * week + rng.randint(0, 6)
                    day = today if week == index == 0 else today - timedelta(days=days_back)
                    _post(staff, household, rules[code], day, rng.randint(low, high),
                          f"demo:{week}:{code}:{household.id}")
    _demo_claims_and_appeals(rules, staff)
    _demo_inspections(village, staff[0], rng)


def _carry_over(village: GridNode, admin: User) -> None:
    """上年结转: each registered household's points from the paper ledger of the years before, entered on the last
    day of last year, so that the shop has customers who can afford more than soap (renters joined this year)."""
    rng = random.Random(2025)
    last_year = date(local_today().year - 1, 12, 31)
    for household in db.session.scalars(select(Household).where(Household.village_id == village.id,
                                                                Household.kind == HouseholdKind.REGISTERED)
                                        .order_by(Household.id)):
        post_entry(household.id, rng.randrange(40, 400, 5), EntrySource.MANUAL, f"demo:carry-over:{household.id}",
                   actor=admin, note=f"{last_year.year} 年及以前的纸质台账结转", occurred_on=last_year)


def _demo_inspections(village: GridNode, admin: User, rng: random.Random) -> None:
    """Two weeks of 卫生评比, each household scored and the rounds published: last week and the last week of the
    latest month that is over, whose summary is published with its 流动红旗, whatever the day; this week's round
    begun, a grid half scored."""
    village_settings.update_settings(admin, village, shame_count=2, shame_max=4)
    items = village_settings.ensure_checklist(village.id)
    households = list(db.session.scalars(select(Household).where(Household.village_id == village.id)
                                         .order_by(Household.id)))
    this_monday = local_today() - timedelta(days=local_today().weekday())
    last_week = this_monday - timedelta(weeks=1)
    month = month_of_week(last_week)
    if month_weeks_end(month) >= local_today():
        before = parse_month(month)[0] - timedelta(days=1)
        month = f"{before.year}-{before.month:02d}"
    published = {last_monday(month), last_week}
    if len(published) == 1:
        published.add(last_week - timedelta(weeks=1))
    for monday in (*sorted(published), this_monday):
        round_ = inspection.round_for(village, week_of(monday))
        past = monday < this_monday
        chosen = households if past else [h for h in households if h.grid_id == households[0].grid_id][::2]
        for household in chosen:
            # Doors differ a little on each item (0–3 points off), so that only a few households tie at the top
            # of a grid and the 示范户 and 流动红旗 go to a handful, as in a real village.
            lines = {item.id: points for item in items if (points := rng.choice((0, 0, 1, 2, 3)))}
            inspection.save_score(admin, round_, household.id, lines)
        if past:
            publishing.publish_round(admin, round_)
    monthly.publish_month(admin, village, month)


def _post(staff: list[User], household: Household, rule: Rule, day: date, quantity: int, key: str) -> None:
    """Post as the first demo account whose role may apply the rule here, naming the head of the household (the
    个人 board ranks residents); a cap reached is simply skipped."""
    version = rule.versions[-1]
    actor = next((u for u in staff if policy.can_apply_rule(u, version.role_set, household)), None)
    if actor is None:
        return
    try:
        with db.session.begin_nested():
            apply_rule(actor, household.id, rule.id, key, quantity=quantity, resident_id=household.head_id,
                       occurred_on=day)
    except DomainError:
        pass


def _demo_claims_and_appeals(rules: dict, staff: list[User]) -> None:
    """villager1: a claim waiting for review; villager2: one approved; villager3: a deduction appealed."""
    villagers = {name: db.session.scalar(select(User).where(User.username == name))
                 for name in ("villager1", "villager2", "villager3")}
    worker = next(u for u in staff if u.username == "worker1")
    today = local_today()
    no_photos = claims.PhotoStore("", 0)  # PUB-HAZARD needs no photo
    claims.submit_claim(villagers["villager1"], rules["PUB-HAZARD"].id, [], no_photos,
                        occurred_on=today - timedelta(days=1), note="村口路灯杆倾斜，已拍照告知网格员",
                        client_key="demo")
    approved = claims.submit_claim(villagers["villager2"], rules["PUB-HAZARD"].id, [], no_photos,
                                   occurred_on=today - timedelta(days=6), note="河边护栏松动", client_key="demo")
    claims.approve_claim(worker, approved.id)
    household = db.session.get(Household, villagers["villager3"].resident.household_id)
    leader = next(u for u in staff if policy.can_apply_rule(u, frozenset({LEADER}), household))
    penalty = apply_rule(leader, household.id, rules["HYG-PILE"].id, "demo:appeal",
                         occurred_on=today - timedelta(days=3),
                         note="门前堆放建材")
    claims.submit_appeal(villagers["villager3"], penalty.id, "建材是修屋顶临时放的，第二天已经清走了",
                         client_key="demo")


SERIES_MONTHS = (-2, 2)  # 环境整治日: from two months before this one to two months after
SERIES_ATTENDEES = 20  # people at each 环境整治日 already held
RIVER_ATTENDEES = 12


def _build_events(village: GridNode) -> None:
    """志愿活动: 户卡 for every household of 第一网格; the monthly 环境整治日 (third Saturday, VOL-CLEANUP),
    those already
    held closed into the ledger; a river clean-up of 第一网格 ten days ago, by the hour (VOL-HOUR) and closed; and a
    visit to the elderly next week, organized by `organizer`, open for check-in on its day."""
    rng = random.Random(5)
    today = local_today()
    admin, organizer, villager1 = (db.session.scalar(select(User).where(User.username == name))
                                   for name in ("cunwei", "organizer", "villager1"))
    rules = {code: db.session.scalar(select(Rule).where(Rule.village_id == village.id, Rule.code == code))
             for code in ("VOL-CLEANUP", "VOL-HOUR")}
    grids = list(db.session.scalars(select(GridNode).where(GridNode.parent_id == village.id).order_by(GridNode.id)))
    registered = list(db.session.scalars(select(Household).where(Household.village_id == village.id,
                                                                 Household.kind == HouseholdKind.REGISTERED)
                                         .order_by(Household.number)))
    cards = {h.id: card_of_household(h) or issue_card(admin, h)
             for h in db.session.scalars(select(Household).where(Household.grid_id == grids[0].id)
                                         .order_by(Household.number))}

    this_month = today.replace(day=1)
    first, last = (_month_after(this_month, months) for months in SERIES_MONTHS)
    first = max(first, RULE_BOOK_START)
    nine = datetime.combine(first, time(9))
    series = events.create_series(organizer, village, events.EventTerms(
        "环境整治日", "村委会广场集合", nine, nine + timedelta(hours=2), rules["VOL-CLEANUP"].id,
        organizer_id=organizer.id), nth=3, weekday=5, first_month=first, last_month=last)
    held = db.session.scalars(select(Event).where(Event.series_id == series.id, Event.ends_at < utcnow())
                              .order_by(Event.starts_at)).all()
    for event in held:
        for household in sorted(rng.sample(registered, SERIES_ATTENDEES), key=lambda h: h.number):
            _check_in(organizer, event, household.head_id, cards.get(household.id), rng)
        events.close_event(organizer, event)

    river_day = today - timedelta(days=10)
    afternoon = datetime.combine(river_day, time(14))
    river = events.create_event(organizer, village, events.EventTerms(
        "清理河道垃圾", "溪边公园", afternoon, afternoon + timedelta(hours=3), rules["VOL-HOUR"].id,
        mode=CheckinMode.IN_OUT, capacity=30, grid_id=grids[0].id, organizer_id=organizer.id))
    grid_households = [h for h in registered if h.grid_id == grids[0].id and h.id != villager1.resident.household_id]
    start = river.starts_at
    checkins.check_in_self(villager1, checkins.static_token(river), river.id, now=start - timedelta(minutes=5))
    checkins.check_out_resident(organizer, river, villager1.resident_id, now=start + timedelta(hours=3))
    for household in sorted(rng.sample(grid_households, RIVER_ATTENDEES - 1), key=lambda h: h.number):
        _check_in(organizer, river, household.head_id, cards.get(household.id), rng)
        hours = rng.choice((1, 2, 3))
        checkins.check_out_resident(organizer, river, household.head_id, now=start + timedelta(hours=hours))
    events.close_event(organizer, river)

    visit = datetime.combine(today + timedelta(days=6), time(9, 30))
    events.create_event(organizer, village, events.EventTerms(
        "探访空巢老人", "瑶前村老年活动中心", visit, visit + timedelta(hours=2, minutes=30), rules["VOL-HOUR"].id,
        capacity=15, organizer_id=organizer.id))


# 乡村共享驿站's shelf: (name, unit, points, stock); the rice cooker is nearly gone, so the report warns of it.
PRODUCTS = (
    ("洗衣液 2kg", "瓶", 30, 40),
    ("毛巾", "条", 10, 60),
    ("食用油 5L", "桶", 80, 15),
    ("大米 10kg", "袋", 60, 20),
    ("肥皂", "块", 5, 100),
    ("牙膏", "支", 10, 50),
    ("酱油", "瓶", 15, 30),
    ("抽纸（10包）", "提", 20, 25),
    ("电饭煲", "台", 300, 2),
)


DEMO_BASKETS = (
    [("洗衣液 2kg", 1), ("肥皂", 2)],  # villager2's
    [("毛巾", 2), ("肥皂", 4)],
    [("牙膏", 1), ("酱油", 1)],
    [("大米 10kg", 1)],
    [("抽纸（10包）", 1)],
    [("食用油 5L", 1)],
    [("酱油", 2)],
)


def _build_shop(village: GridNode) -> None:
    """积分超市 (乡村共享驿站): the shelf above, and today's counter: villager2 and then the first households (by 户号)
    with the points for them redeem the baskets above, by household card where they have one; the last basket is
    voided by the clerk (拿错了)."""
    admin, clerk, villager2 = (db.session.scalar(select(User).where(User.username == name))
                               for name in ("cunwei", "clerk", "villager2"))
    shop = shop_services.create_shop(admin, village, "瑶前村乡村共享驿站")
    products = [shop_services.create_product(clerk, shop, shop_services.ProductTerms(name, unit, price), stock=stock)
                for name, unit, price, stock in PRODUCTS]
    shelf = {p.name: p for p in products}
    customers = iter([villager2.resident.household, *db.session.scalars(
        select(Household).where(Household.village_id == village.id).order_by(Household.number))])
    redeemed = []
    for lines in DEMO_BASKETS:
        total = sum(shelf[name].price * quantity for name, quantity in lines)
        household = next(h for h in customers if balance_of(h.id) >= total)
        card = card_of_household(household)
        redeemed.append(shop_services.redeem(clerk, shop, [(shelf[name].id, quantity) for name, quantity in lines],
                                             card=card_text(card) if card else None,
                                             household_id=None if card else household.id).redemption)
    shop_services.void(clerk, redeemed[-1], "拿错了")


def _check_in(actor: User, event: Event, resident_id: int, card, rng: random.Random) -> None:
    """By the household's card where it has one, else by name; a few minutes around the start."""
    now = event.starts_at + timedelta(minutes=rng.randint(-20, 15))
    if card is not None:
        checkins.check_in_card(actor, event, card_text(card), resident_id, now=now)
    else:
        checkins.check_in_resident(actor, event, resident_id, now=now)


def _month_after(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _exists(username: str) -> bool:
    return db.session.scalar(select(User.id).where(User.username == username)) is not None

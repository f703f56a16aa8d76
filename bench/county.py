"""A county-sized data set for the benchmarks: towns, villages, grids, households, residents and a year of ledger.

    from bench.county import PRESETS, build_county, grow_county
    county = build_county(PRESETS["county"])          # 10 towns, 400 villages, 200,000 households, 5M entries
    grow_county(county, layers=10)                    # the same households with 10 × the entries

Everything is written straight into the tables in bulk (COPY on PostgreSQL, executemany on SQLite), not through
the services: a posting at a time would take days at this size. The rows are those the services would write:
the grid tree with its closure rows (grids.services.create_node), households with their heads, a rule book, the
default checklist and a shop per village, ledger entries with the household balances, period totals and grid totals
that ledger.services.post_entries keeps, and behind the first layer's entries what wrote them: closed 志愿服务 events
with their attendances, published 卫生评比 rounds with the 示范户's score sheets, results and postings, monthly
summaries naming the 流动红旗 holders, and redemptions at the shop with their lines, stock movements and voids
(tests/bench/test_county.py proves that on a small county). Entries carry their rule's version where the services
would (hygiene awards have none: they come from the village's settings), no actor and no audit events.

The entries are made household by household from a random generator seeded by (seed, layer, household), so that a
layer can be made again without reading it back: growing a county writes layers 1… and recomputes the period
totals of every layer in memory, one household at a time. The layers grown have no events, rounds or redemptions
behind them (a household would win far more than one 示范户 a week): their entries are plain postings.
"""
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from points.events.models import Attendance, CheckinMethod, CheckinMode, Event
from points.extensions import db
from points.grids.models import GridNode, GridPath, NodeKind
from points.hygiene.inspection import rotation
from points.hygiene.models import ChecklistItem, Outcome, Posting, Result, Score
from points.hygiene.village_settings import DEFAULT_CHECKLIST
from points.ledger.models import EntrySource, GridPeriodTotal, LedgerEntry, PeriodTotal
from points.ledger.queries import period_of_key
from points.people.models import Household
from points.people.queries import on_register
from points.periods import month_of_week, period_keys, week_of
from points.rules.models import Rule, RuleCategory, RuleUnit, RuleVersion
from points.shop.models import Product, Redemption, RedemptionLine, Shop, StockChange, StockMovement
from points.shop.services import _fingerprint as basket_fingerprint

FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2026, 11, 23)
DAYS = (LAST_DAY - FIRST_DAY).days + 1
CREATED = datetime(2026, 1, 1, 2, 0)  # households and residents: 10:00 in Asia/Shanghai

TOWNS = "安海东石磁灶陈埭池店内坑永和英林金井龙湖深沪紫帽西园罗山灵源新塘"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜"
GIVEN = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆芳娜敏静丽艳娟霞燕玲桂英秀兰梅"
STREETS = ("前街", "后街", "东路", "西路", "南巷", "北巷", "中心路", "榕树下", "新村", "祠堂边")
RELATIONS = ("配偶", "子女", "子女", "父母", "孙子女")
SIZES = (1, 2, 2, 3, 3, 3, 3, 4, 4, 5)  # 3 people a household on average
PRICES = (10, 20, 20, 30, 50, 50, 80, 100)  # a basket at the 积分超市
PRODUCTS = {10: ("肥皂", "块"), 20: ("洗洁精", "瓶"), 30: ("洗衣粉", "袋"), 50: ("大米", "袋"), 80: ("食用油", "桶"),
            100: ("毛巾被", "条")}  # a shop's shelf: one product at each price of PRICES
PRODUCT_OF_PRICE = {price: index for index, price in enumerate(PRODUCTS)}
ACTIVITY = 0.9  # sigma of the households' lognormal activity: a few very active households, many quiet ones
CHUNK = 2000  # households between two flushes of the bulk writers

# Categories and sources by a small code: the generator's inner loop handles ints, the writers turn them into text.
CATEGORIES = (None, *RuleCategory)  # code 0: no category (redemptions and their voids)
HYGIENE, VOLUNTEERING, VILLAGE_RULES, MUTUAL_AID, PUBLICITY, GRID_DUTY = range(1, 7)
SOURCES = tuple(EntrySource)
INSPECTION, ATTENDANCE, CLAIM, MANUAL, REDEMPTION, REVERSAL = (SOURCES.index(s) for s in (
    EntrySource.INSPECTION, EntrySource.ATTENDANCE, EntrySource.CLAIM, EntrySource.MANUAL, EntrySource.REDEMPTION,
    EntrySource.REVERSAL))

# The rule book of every village: (code, name, category code, points, unit). An entry is posted under the rule of
# its category and sign (RULE_OF); 示范户 and 流动红旗 awards are the hygiene settings' (no rule), redemptions have
# none. No caps: the generator does not keep to any.
RULE_BOOK = (
    ("VOL-HOUR", "志愿服务（按小时）", VOLUNTEERING, 5, RuleUnit.HOUR),
    ("HYG-PILE", "乱堆乱放、门前卫生差", HYGIENE, -20, RuleUnit.OCCURRENCE),
    ("VR-GOOD", "好人好事", VILLAGE_RULES, 10, RuleUnit.OCCURRENCE),
    ("VR-BREACH", "违反村规民约", VILLAGE_RULES, -10, RuleUnit.OCCURRENCE),
    ("AID-HELP", "村民互助", MUTUAL_AID, 10, RuleUnit.OCCURRENCE),
    ("PUB-REPORT", "宣传监督、报告隐患", PUBLICITY, 5, RuleUnit.OCCURRENCE),
    ("GRID-DUTY", "网格员履职", GRID_DUTY, 10, RuleUnit.OCCURRENCE),
)
RULE_OF = {(category, points > 0): index for index, (_, _, category, points, _) in enumerate(RULE_BOOK)}
# The grid totals the ledger keeps beside the period totals (ledger.totals): every household's overall totals added up
# by its grid, and how many households have one; in one statement once the period totals are in. The county closes no
# household (整户迁出), so every household is on the register in every period, as the grid totals count them
# (_write_grid_totals counts a closed one as migration 0024 does, should one be there).
GRID_TOTALS = ("INSERT INTO grid_period_totals (period, grid_id, category, total, active)"
               " SELECT p.period, h.grid_id, p.category, sum(p.total), count(*)"
               " FROM period_totals p JOIN households h ON h.id = p.household_id WHERE p.resident_id = 0"
               " GROUP BY p.period, h.grid_id, p.category")
# The local hour a resident's first, second … 志愿服务 of a day starts (4 hours each, the most an entry pays for): the
# county preset's busiest volunteer goes to six in one day.
EVENT_HOURS = (8, 13, 18, 4, 0, 20)


@dataclass(frozen=True)
class Spec:
    towns: int
    villages: int  # per town
    grids: int  # per village
    households: int  # in all, spread evenly over the villages
    entries: int  # ledger entries of one layer
    seed: int = 2026


PRESETS = {
    "ci": Spec(towns=2, villages=2, grids=5, households=400, entries=10_000),
    "county": Spec(towns=10, villages=40, grids=5, households=200_000, entries=5_000_000),
}


@dataclass
class County:
    """What build_county made: the spec, the node ids, and how many layers of entries the ledger holds."""

    spec: Spec
    towns: list[int]
    villages: list[int]
    grids: list[int]
    layers: int = 1
    timings: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------------- the calendar


def _calendar():
    """Per day of the year (0 = FIRST_DAY): its date text, its week's and month's period index; per month index, the
    period indexes it rolls up into (quarter, year, all time); and the period keys by index."""
    keys, index = [], {}

    def number(key):
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        return index[key]

    days, weeks, months, rollup = [], [], [], {}
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        week, month, quarter, year, all_time = period_keys(day)
        days.append(day.isoformat())
        weeks.append(number(week))
        months.append(number(month))
        rollup[months[-1]] = (number(quarter), number(year), number(all_time))
    return days, weeks, months, rollup, keys


DAY_TEXT, WEEK_OF, MONTH_OF, ROLLUP, PERIOD_KEYS = _calendar()
CREATED_TEXT = [f"{d} 02:00:00.000000" for d in DAY_TEXT]  # 10:00 local time, stored as naive UTC
# Per day: the 卫生评比 round's ISO week (2026-W47), its Monday, and the month it counts in (its Thursday's).
ROUND_WEEK = [week_of(FIRST_DAY + timedelta(days=offset)) for offset in range(DAYS)]
ROUND_MONDAY = [FIRST_DAY + timedelta(days=offset - (FIRST_DAY.weekday() + offset) % 7) for offset in range(DAYS)]
ROUND_MONTH = [month_of_week(monday) for monday in ROUND_MONDAY]


# ------------------------------------------------------------------------------------------------------ the movements


def movements(rng: random.Random, count: int, members: int) -> list[tuple]:
    """One household's entries of one layer, in posting order: (day, amount, category, source, member, hours,
    reverses), where day is the day the points belong to (0 = FIRST_DAY), member the resident's place in the household
    (0: none, 1…members), reverses the index of the entry undone (or -1), and the posting day, for created_at, is
    the last element. The balance never goes below zero through a redemption: the shop refuses it. A household wins
    the 示范户 once a week and the 流动红旗 once a month at most (a second draw is a good deed instead), and a
    published award is never reversed: a correction would change the round's results too."""
    out = []
    reversible = []  # entries that may still be reversed
    awarded = set()  # the weeks and months (period indexes) of the household's hygiene awards
    balance = 0
    random_, randrange = rng.random, rng.randrange

    def hygiene_award(day: int, amount: int, period: int) -> tuple:
        if period in awarded:
            return day, 10, VILLAGE_RULES, MANUAL, 0, 0, -1, day
        awarded.add(period)
        return day, amount, HYGIENE, INSPECTION, 0, 0, -1, day

    for day in sorted(randrange(DAYS) for _ in range(count)):
        r = random_()
        if r < 0.30:  # 卫生保洁示范户, weekly
            entry = hygiene_award(day, 20, WEEK_OF[day])
        elif r < 0.33:  # 流动红旗, monthly
            entry = hygiene_award(day, 50, MONTH_OF[day])
        elif r < 0.63:  # 志愿服务, 5 points an hour
            hours = randrange(1, 5)
            entry = (day, 5 * hours, VOLUNTEERING, ATTENDANCE, randrange(members) + 1, hours, -1, day)
        elif r < 0.70:  # 村民互助
            entry = (day, 10, MUTUAL_AID, MANUAL, randrange(members) + 1 if r < 0.665 else 0, 0, -1, day)
        elif r < 0.75:  # 宣传监督, claimed by a resident
            entry = (day, 5, PUBLICITY, CLAIM, randrange(members) + 1, 0, -1, day)
        elif r < 0.78:
            entry = (day, 10, GRID_DUTY, MANUAL, 0, 0, -1, day)
        elif r < 0.83:  # penalties: 5 %
            entry = (day, -10, VILLAGE_RULES, MANUAL, 0, 0, -1, day) if r < 0.81 else (
                day, -20, HYGIENE, MANUAL, 0, 0, -1, day)
        elif r < 0.91:  # 积分超市: a basket the household can pay for, else it earns a 示范户 award instead
            price = PRICES[randrange(len(PRICES))]
            entry = (day, -price, 0, REDEMPTION, 0, 0, -1, day) if balance >= price else hygiene_award(
                day, 20, WEEK_OF[day])
        elif r < 0.925 and reversible:  # 冲正 (an appeal upheld, a correction) or a void at the shop
            pick = randrange(len(reversible))
            undone = reversible[pick]
            reversible[pick] = reversible[-1]
            reversible.pop()
            o = out[undone]
            entry = (o[0], -o[1], o[2], REVERSAL, o[4], -o[5], undone, day)
            balance += entry[1]
            out.append(entry)
            continue
        else:  # 村规民约: 好人好事
            entry = (day, 10, VILLAGE_RULES, MANUAL, 0, 0, -1, day)
        balance += entry[1]
        if entry[3] != INSPECTION:
            reversible.append(len(out))
        out.append(entry)
    return out


def _household_rng(seed: int, layer: int, household_id: int) -> random.Random:
    return random.Random(seed * 1_000_003 + layer * 100_000_007 + household_id)


def entry_counts(spec: Spec) -> list[int]:
    """How many entries each household gets in a layer (the same in every layer): lognormal weights, rounded so that
    they add up to spec.entries exactly."""
    rng = random.Random(spec.seed)
    weights = [rng.lognormvariate(0, ACTIVITY) for _ in range(spec.households)]
    scale = spec.entries / sum(weights)
    counts, running, given = [], 0.0, 0
    for weight in weights:
        running += weight * scale
        counts.append(round(running) - given)
        given += counts[-1]
    return counts


def add_to_totals(sums: dict, movements_: list[tuple]) -> int:
    """Add a household's movements to sums, keyed by (period index, member, category) for the week and the month
    of each (quarters, years and all time are rolled up from the months by household_totals). Leaves out redemptions
    and their voids, as post_entries does; returns the sum of all the amounts (the balance's share)."""
    balance = 0
    for day, amount, category, source, member, hours, reverses, _posted in movements_:
        balance += amount
        if category == 0:  # redemptions and their voids carry no category, and only they
            continue
        if reverses >= 0:
            deducted = -amount if amount > 0 else 0
        else:
            deducted = -amount if amount < 0 else 0
        for period in (WEEK_OF[day], MONTH_OF[day]):
            key = (period << 6) | (member << 3) | category
            total = sums.get(key)
            if total is None:
                sums[key] = [amount, 1, deducted, hours]
            else:
                total[0] += amount
                total[1] += 1
                total[2] += deducted
                total[3] += hours
    return balance


def household_totals(sums: dict) -> dict:
    """The household's period totals from add_to_totals's sums: (period index, member, category code) → [total,
    entries, deducted, hours], every entry counting under {(0, all), (0, its category), (its member, all), (its
    member, its category)}, in its week, month, quarter, year and all time; keys are (period << 6) | (member << 3) |
    category, as in sums."""
    rolled = dict(sums)
    for key, values in sums.items():
        period = key >> 6
        if period in ROLLUP:  # a month: add it to its quarter, its year and all time
            rest = key & 63
            for upper in ROLLUP[period]:
                upper_key = (upper << 6) | rest
                total = rolled.get(upper_key)
                if total is None:
                    rolled[upper_key] = list(values)
                else:
                    for i in range(4):
                        total[i] += values[i]
    result = {}
    get = result.get
    for key, values in rolled.items():
        whole = key & ~63  # (period, no member, all categories)
        member = key & 56
        # Every counted entry has a category; with no member its keys are 2, else 4.
        for target in (whole, whole | (key & 7), whole | member, key) if member else (whole, key):
            total = get(target)
            if total is None:
                result[target] = values[:]
            else:
                total[0] += values[0]
                total[1] += values[1]
                total[2] += values[2]
                total[3] += values[3]
    return result


# -------------------------------------------------------------------------------------------------------- the writers


class _Writer:
    """Rows into one table in bulk: COPY on PostgreSQL (a connection of its own, so two tables can stream at once),
    executemany on SQLite."""

    def __init__(self, table: str, columns: list[str]):
        self.table, self.columns = table, columns
        self.postgres = db.engine.dialect.name == "postgresql"
        self.connection = db.engine.connect()
        self.raw = self.connection.connection.driver_connection
        if self.postgres:
            self.cursor = self.raw.cursor()
            # The rows are consistent by construction: no foreign-key trigger per row (superuser only).
            self.cursor.execute("SET session_replication_role = replica")
            self.line = "\t".join("{}" for _ in columns) + "\n"
            self.copy_context = self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
            self.copy = self.copy_context.__enter__()
        else:
            self.saved = [(name, self.raw.execute(f"PRAGMA {name}").fetchone()[0])
                          for name in ("synchronous", "foreign_keys", "cache_size")]
            self.raw.execute("PRAGMA synchronous=OFF")
            self.raw.execute("PRAGMA foreign_keys=OFF")
            self.raw.execute("PRAGMA cache_size=-500000")  # 500 MB
            self.statement = (f"INSERT INTO {table} ({', '.join(columns)}) "
                              f"VALUES ({', '.join('?' for _ in columns)})")
        self.rows = []
        self.count = 0

    def add(self, row: tuple) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if not self.rows:
            return
        self.count += len(self.rows)
        if self.postgres:
            line = self.line.format
            self.copy.write("".join([line(*row) for row in self.rows]))
        else:
            self.raw.executemany(self.statement, self.rows)
        self.rows = []

    def close(self) -> None:
        self.flush()
        if self.postgres:
            self.copy_context.__exit__(None, None, None)
            self.cursor.execute("RESET session_replication_role")
            self.cursor.close()
        self.raw.commit()
        self._release()

    def _release(self) -> None:
        """Give the pooled connection back as it was found."""
        if not self.postgres:
            for name, value in self.saved:
                self.raw.execute(f"PRAGMA {name}={value}")
        self.connection.close()


def _sqlite_share_writer(writers: list[_Writer]) -> None:
    """SQLite takes one writer at a time: every table goes through the first writer's connection."""
    if writers[0].postgres:
        return
    for writer in writers[1:]:
        writer._release()
        writer.raw = writers[0].raw
        writer.connection = writers[0].connection


def _close_all(writers: list[_Writer]) -> None:
    if writers[0].postgres:
        for writer in writers:
            writer.close()
    else:
        for writer in writers:
            writer.flush()
        writers[0].raw.commit()
        writers[0]._release()


def _stamp(moment: datetime) -> str:
    """A naive UTC time as SQLAlchemy stores it on SQLite (and PostgreSQL's COPY reads it)."""
    return moment.isoformat(sep=" ", timespec="microseconds")


class _Backing:
    """What wrote the first layer's entries, made with them household by household and written beside them:

    - ATTENDANCE: an attendance (scanned in at the start, out after the entry's hours) at a closed 志愿服务 event of
      the village on the entry's day, under the village's VOL-HOUR rule; a resident's second event of a day is
      another event, later that day (EVENT_HOURS);
    - INSPECTION +20: the published round of the village and the entry's ISO week (its assignments as round_for
      rotates them, published for the grids with awards), the 示范户's score sheet (no deductions), its result
      (rank 1, 示范户: with default settings every household without deductions is one, and the households of
      the grid without a sheet are left out of the ranking) and the hygiene posting. Publishing such a round again
      posts nothing; it would only add the result rows of the households without a sheet (rank None), which are
      not written here to keep the rows to the awards;
    - INSPECTION +50: the village's monthly summary of the entry's month naming the household a 流动红旗 holder
      (its monthly result: its weekly scores of the month's rounds) and the posting;
    - REDEMPTION: a redemption of one product at the entry's price at the village's shop, with its line and stock
      movement; the reversal of one is its void (void_entry_id, and the stock back).
    Each product gets one restock (first of its movements) that leaves a hundred or more on the shelf."""

    def __init__(self, county: County, postgres: bool):
        self.spec, self.villages = county.spec, county.villages
        self.place = {village: place for place, village in enumerate(county.villages)}
        self.null, self.true = ("\\N", "t") if postgres else (None, 1)
        self.events = _Writer("events", [
            "id", "village_id", "grid_id", "title", "place", "starts_at", "ends_at", "capacity", "organizer_id",
            "rule_id", "mode", "series_id", "attendees", "code_version", "created_at", "closed_at", "closed_by_id"])
        self.attendances = _Writer("attendances", [
            "id", "event_id", "resident_id", "household_id", "method", "recorded_by_id", "checked_in_at",
            "checked_out_at", "removed_at", "removed_by_id", "entry_id", "hours", "unpaid_reason", "client_key",
            "request_digest"])
        self.rounds = _Writer("inspection_rounds", ["id", "village_id", "week", "monday", "month", "created_at"])
        self.assignments = _Writer("inspection_assignments", [
            "round_id", "grid_id", "inspector_grid_id", "published_at", "published_by_id", "publications"])
        self.scores = _Writer("inspection_scores", [
            "id", "round_id", "household_id", "grid_id", "deductions", "note", "photo", "revision", "scored_by_id",
            "scored_at"])
        self.results = _Writer("inspection_results", [
            "round_id", "household_id", "grid_id", "scored", "deductions", "score", "rank", "outcome"])
        self.postings = _Writer("hygiene_postings", [
            "id", "village_id", "period", "household_id", "grid_id", "outcome", "entry_id", "reversal_id"])
        self.summaries = _Writer("monthly_summaries", [
            "id", "village_id", "month", "published_at", "published_by_id", "publications"])
        self.monthly = _Writer("monthly_results", [
            "summary_id", "household_id", "grid_id", "total", "weeks", "rank", "flag"])
        self.redemptions = _Writer("redemptions", [
            "id", "shop_id", "household_id", "card_id", "total", "entry_id", "clerk_id", "client_key", "fingerprint",
            "created_at", "voided_at", "voided_by_id", "void_reason", "void_entry_id"])
        self.lines = _Writer("redemption_lines", ["id", "redemption_id", "product_id", "name", "unit", "price",
                                                  "quantity"])
        self.movements = _Writer("stock_movements", [
            "id", "product_id", "quantity", "kind", "reason", "redemption_id", "actor_id", "created_at", "client_key",
            "fingerprint"])
        self.writers = [self.events, self.attendances, self.rounds, self.assignments, self.scores, self.results,
                        self.postings, self.summaries, self.monthly, self.redemptions, self.lines, self.movements]
        products = len(county.villages) * len(PRODUCTS)
        self.sold, self.returned = [0] * products, [0] * products
        # Ids counted from 1 (the database is new); the restocks take the stock movements' first ids.
        self.ids = dict(event=0, attendance=0, round=0, score=0, posting=0, summary=0, redemption=0,
                        movement=products)
        # The village being made: its events by (day, the nth of a resident's that day) → [id, attendees], its rounds
        # by week → [id, Monday, month, {grid: published at}], its summaries by month → [id, published at].
        self.village, self.day_events, self.village_rounds, self.village_months = None, {}, {}, {}

    def _next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def household(self, household: int, village: int, grid: int, first_resident: int, first_entry: int,
                  moves: list[tuple]) -> None:
        """The rows behind one household's entries of the first layer (their ids from first_entry on)."""
        if village != self.village:
            self._end_village()
            self.village, self.day_events, self.village_rounds, self.village_months = village, {}, {}, {}
        null = self.null
        place = self.place[village]
        events_that_day = {}  # (resident, day) → events of the day they went to
        redeemed = {}  # a redemption entry's index → its row, for a void
        model_months, flag_months = {}, []
        for index, (day, amount, _category, source, member, hours, reverses, posted) in enumerate(moves):
            entry_id = first_entry + index
            if source == ATTENDANCE:
                resident = first_resident + member - 1
                nth = events_that_day.get((resident, day), 0)
                events_that_day[(resident, day)] = nth + 1
                event = self.day_events.get((day, nth))
                if event is None:
                    event = self.day_events[(day, nth)] = [self._next("event"), 0]
                event[1] += 1
                start = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time()) + timedelta(
                    hours=EVENT_HOURS[nth] - 8)
                self.attendances.add((self._next("attendance"), event[0], resident, household,
                                      CheckinMethod.SELF.value, null, _stamp(start),
                                      _stamp(start + timedelta(hours=hours)), null, null, entry_id, hours, "", null,
                                      null))
            elif source == INSPECTION and amount == 20:
                week = ROUND_WEEK[day]
                round_ = self.village_rounds.get(week)
                if round_ is None:
                    round_ = self.village_rounds[week] = [self._next("round"), ROUND_MONDAY[day], ROUND_MONTH[day], {}]
                published = round_[3]
                if published.get(grid, "") < CREATED_TEXT[posted]:
                    published[grid] = CREATED_TEXT[posted]
                self.scores.add((self._next("score"), round_[0], household, grid, 0, "", null, 1, null,
                                 CREATED_TEXT[posted]))
                self.results.add((round_[0], household, grid, self.true, 0, 100, 1, Outcome.MODEL.value))
                self.postings.add((self._next("posting"), village, f"W{week}", household, grid, Outcome.MODEL.value,
                                   entry_id, null))
                model_months[round_[2]] = model_months.get(round_[2], 0) + 1
            elif source == INSPECTION:
                month = DAY_TEXT[day][:7]
                summary = self.village_months.get(month)
                if summary is None:
                    summary = self.village_months[month] = [self._next("summary"), ""]
                summary[1] = max(summary[1], CREATED_TEXT[posted])
                flag_months.append((summary[0], month))
                self.postings.add((self._next("posting"), village, f"M{month}", household, grid, Outcome.FLAG.value,
                                   entry_id, null))
            elif source == REDEMPTION:
                product = place * len(PRODUCTS) + PRODUCT_OF_PRICE[-amount]
                name, unit = PRODUCTS[-amount]
                redemption = self._next("redemption")
                redeemed[index] = [redemption, place + 1, household, null, -amount, entry_id, null, null,
                                   basket_fingerprint(place + 1, household, [(product + 1, 1)]), CREATED_TEXT[posted],
                                   null, null, null, null]
                self.lines.add((redemption, redemption, product + 1, name, unit, -amount, 1))
                self.movements.add((self._next("movement"), product + 1, -1, StockChange.REDEMPTION.value, "",
                                    redemption, null, CREATED_TEXT[posted], null, null))
                self.sold[product] += 1
            elif source == REVERSAL and reverses in redeemed:
                row = redeemed[reverses]
                product = place * len(PRODUCTS) + PRODUCT_OF_PRICE[amount]
                row[10], row[12], row[13] = CREATED_TEXT[posted], "录入有误", entry_id
                self.movements.add((self._next("movement"), product + 1, 1, StockChange.VOID.value, "录入有误", row[0],
                                    null, CREATED_TEXT[posted], null, null))
                self.returned[product] += 1
        for row in redeemed.values():
            self.redemptions.add(tuple(row))
        for summary, month in flag_months:
            weeks = model_months.get(month, 0)
            self.monthly.add((summary, household, grid, 100 * weeks, weeks, 1, self.true))

    def _end_village(self) -> None:
        """The village's events (with their attendees), rounds with their assignments, and monthly summaries."""
        if self.village is None:
            return
        village, null = self.village, self.null
        rule = self.place[village] * len(RULE_BOOK) + 1  # VOL-HOUR
        for (day, nth), (event, attendees) in self.day_events.items():
            start = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time()) + timedelta(
                hours=EVENT_HOURS[nth] - 8)
            self.events.add((event, village, null, "志愿服务", "村委会", _stamp(start),
                             _stamp(start + timedelta(hours=4)),
                             null, null, rule, CheckinMode.IN_OUT.value, null, attendees, 1,
                             _stamp(start - timedelta(days=3)), _stamp(start + timedelta(hours=4)), null))
        grids = list(range(village + 1, village + 1 + self.spec.grids))
        for week, (round_, monday, month, published) in self.village_rounds.items():
            self.rounds.add((round_, village, week, monday.isoformat(), month, f"{monday} 00:00:00.000000"))
            for grid, inspector in rotation(grids, monday).items():
                self.assignments.add((round_, grid, inspector, published.get(grid, null), null,
                                      1 if grid in published else 0))
        for month, (summary, published_at) in self.village_months.items():
            self.summaries.add((summary, village, month, published_at, null, 1))

    def close(self) -> None:
        """The last village's rows, before the writers close."""
        self._end_village()

    def finish(self) -> None:
        """After the writers have closed: the products, each with its stock and the restock that came first."""
        products, restocks = [], []
        for place in range(len(self.villages)):
            for index, (price, (name, unit)) in enumerate(PRODUCTS.items()):
                product = place * len(PRODUCTS) + index
                restocked = (self.sold[product] // 100 + 1) * 100
                products.append(dict(id=product + 1, shop_id=place + 1, name=name, unit=unit, price=price,
                                     stock=restocked - self.sold[product] + self.returned[product], active=True,
                                     created_at=CREATED))
                restocks.append(dict(id=product + 1, product_id=product + 1, quantity=restocked,
                                     kind=StockChange.RESTOCK, reason="初始库存", created_at=CREATED))
        db.session.execute(insert(Product), products)
        db.session.execute(insert(StockMovement), restocks)
        for table in ("products", "stock_movements", "events", "attendances", "inspection_rounds",
                      "inspection_scores", "hygiene_postings", "monthly_summaries", "redemptions", "redemption_lines"):
            _fix_sequence(table)
        db.session.commit()


def _execute(*statements: str) -> None:
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for statement in statements:
            connection.exec_driver_sql(statement)
        connection.commit()


def _write_grid_totals() -> None:
    """The grid totals from the period totals, into an empty table: GRID_TOTALS when no household is closed (the
    county's); else a statement per period, a closed household counting only in the periods it is on the register in
    (people.queries.on_register: closed on or after the period's first day), as migration 0024 adds them up."""
    with db.engine.connect() as connection:
        closed = connection.scalar(select(func.count()).select_from(Household).where(Household.closed_on.is_not(None)))
    if not closed:
        _execute(GRID_TOTALS)
        return
    with db.engine.connect() as connection:
        for period in connection.scalars(select(PeriodTotal.period).distinct()).all():
            connection.execute(insert(GridPeriodTotal).from_select(
                ["period", "grid_id", "category", "total", "active"],
                select(PeriodTotal.period, Household.grid_id, PeriodTotal.category, func.sum(PeriodTotal.total),
                       func.count())
                .join(Household, Household.id == PeriodTotal.household_id)
                .where(PeriodTotal.period == period, PeriodTotal.resident_id == 0, on_register(period_of_key(period)))
                .group_by(PeriodTotal.period, Household.grid_id, PeriodTotal.category)))
        connection.commit()


def _drop_indexes(*tables) -> list:
    """Drop the secondary indexes of tables (the keys and unique constraints stay); return them for _create_indexes."""
    indexes = [index for table in tables for index in table.indexes]
    with db.engine.connect() as connection:
        for index in indexes:
            index.drop(connection, checkfirst=True)
        connection.commit()
    return indexes


def _create_indexes(indexes: list) -> None:
    # A new connection: one idle in the pool since before the drop may still read the old schema (SQLite in WAL mode,
    # after the threads of an earlier test), and refuse the CREATE as already there.
    db.engine.dispose()
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET maintenance_work_mem = '1GB'")
        for index in indexes:
            index.create(connection)
        connection.commit()


# ------------------------------------------------------------------------------------------------------ the building


def build_county(spec: Spec, progress=print) -> County:
    """Write the county into an empty database made by the migrations: the grid tree, households, residents, one
    layer of ledger entries, the balances, the period totals and the grid totals. Commits. progress(text) hears of
    each step."""
    if db.session.scalar(select(func.count()).select_from(GridNode)):
        raise RuntimeError("build_county needs an empty database")
    county = _build_tree(spec)
    started = time.perf_counter()
    _build_people(spec)
    county.timings["people"] = time.perf_counter() - started
    progress(f"households and residents: {spec.households} households: {county.timings['people']:.1f} s")
    _build_books(county)
    _write_ledger(county, write=[0], total=[0], progress=progress)
    return county


def grow_county(county: County, layers: int, progress=print) -> None:
    """Add layers of entries (the same households, as many entries per layer as the first) until the ledger holds
    layers of them, and rebuild the balances, period totals and grid totals over all of them. The new layers' entries
    have no events, rounds or redemptions behind them, and no stock moves. Commits."""
    if layers <= county.layers:
        return
    _write_ledger(county, write=list(range(county.layers, layers)), total=list(range(layers)), progress=progress)
    county.layers = layers


def county_for_benchmark(spec: Spec, reuse: bool) -> County:
    """The county a benchmark times: the one in the database (reuse), or one built now into the empty database the
    migrations make; says which, and how long the building took."""
    if reuse:
        county = open_county(spec)
        print(f"reusing the county in the database: {county.layers} × {spec.entries} entries")
        return county
    upgrade()
    started = time.perf_counter()
    county = build_county(spec, progress=lambda line: print(f"  {line}"))
    print(f"build the county ({spec.households} households, {spec.entries} entries) {db.engine.dialect.name}: "
          f"{time.perf_counter() - started:.1f} s")
    return county


def open_county(spec: Spec) -> County:
    """The county already in the database (built from spec), with as many layers as its ledger holds."""
    nodes = db.session.execute(select(GridNode.id, GridNode.kind).order_by(GridNode.id)).all()
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    return County(spec, [i for i, k in nodes if k is NodeKind.TOWN], [i for i, k in nodes if k is NodeKind.VILLAGE],
                  [i for i, k in nodes if k is NodeKind.GRID], layers=round(entries / spec.entries))


def _build_tree(spec: Spec) -> County:
    """Towns, villages and grids with ids counted from 1, and their closure rows, as create_node writes them."""
    nodes, paths = [], []
    county = County(spec, [], [], [])
    next_id = 1
    for t in range(spec.towns):
        town = next_id
        next_id += 1
        start = 2 * t % len(TOWNS)
        name = TOWNS[start:start + 2] + ("镇" if 2 * t < len(TOWNS) else f"{t + 1}镇")
        nodes.append(dict(id=town, parent_id=None, kind=NodeKind.TOWN, name=name, code=f"t{t + 1:02d}", depth=0,
                          village_id=None))
        paths.append(dict(ancestor_id=town, descendant_id=town, distance=0))
        county.towns.append(town)
        for v in range(spec.villages):
            village = next_id
            next_id += 1
            code = f"t{t + 1:02d}v{v + 1:02d}"
            nodes.append(dict(id=village, parent_id=town, kind=NodeKind.VILLAGE, name=f"{name[:-1]}{v + 1}村",
                              code=code, depth=1, village_id=village))
            paths += [dict(ancestor_id=village, descendant_id=village, distance=0),
                      dict(ancestor_id=town, descendant_id=village, distance=1)]
            county.villages.append(village)
            for g in range(spec.grids):
                grid = next_id
                next_id += 1
                nodes.append(dict(id=grid, parent_id=village, kind=NodeKind.GRID, name=f"第{g + 1}网格",
                                  code=f"{code}g{g + 1}", depth=2, village_id=village))
                paths += [dict(ancestor_id=grid, descendant_id=grid, distance=0),
                          dict(ancestor_id=village, descendant_id=grid, distance=1),
                          dict(ancestor_id=town, descendant_id=grid, distance=2)]
                county.grids.append(grid)
    db.session.execute(insert(GridNode), nodes)
    db.session.execute(insert(GridPath), paths)
    _fix_sequence("grid_nodes")
    db.session.commit()
    return county


def _members(spec: Spec) -> list[int]:
    """How many residents each household has (the head first)."""
    rng = random.Random(spec.seed + 1)
    return [SIZES[rng.randrange(len(SIZES))] for _ in range(spec.households)]


def _grid_of(spec: Spec, index: int) -> tuple[int, int, int]:
    """The village id, grid id and number in the village of the household at index (0-based): villages in order,
    grids filled in turn."""
    per_village = spec.households / (spec.towns * spec.villages)
    village_index = int(index / per_village)
    first_in_village = round(village_index * per_village)
    per_grid = (round((village_index + 1) * per_village) - first_in_village) / spec.grids
    grid_index = min(int((index - first_in_village) / per_grid), spec.grids - 1)
    town_index = village_index // spec.villages
    village = 1 + town_index * (1 + spec.villages * (1 + spec.grids)) + 1 + (village_index % spec.villages) * (
        1 + spec.grids)
    return village, village + 1 + grid_index, index - first_in_village + 1


def _build_people(spec: Spec) -> None:
    """Households (ids 1…) spread evenly over the villages' grids, their residents (ids 1…, the head first), and
    each household's head."""
    rng = random.Random(spec.seed + 2)
    created = CREATED.isoformat(sep=" ", timespec="microseconds")
    sizes = _members(spec)
    households = _Writer("households", ["id", "village_id", "grid_id", "number", "address", "kind", "created_at"])
    residents = _Writer("residents", ["id", "household_id", "name", "relation", "created_at"])
    writers = [households, residents]
    _sqlite_share_writer(writers)
    resident_id = 0
    heads = []
    for index in range(spec.households):
        village, grid, number = _grid_of(spec, index)
        household = index + 1
        kind = "renter" if rng.random() < 0.08 else "registered"
        households.add((household, village, grid, f"{number:04d}",
                        f"{rng.choice(STREETS)}{rng.randint(1, 400)}号", kind, created))
        surname = rng.choice(SURNAMES)
        for place in range(sizes[index]):
            resident_id += 1
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            if place == 0:
                heads.append(resident_id)
            residents.add((resident_id, household, surname + given, "户主" if place == 0 else rng.choice(RELATIONS),
                           created))
        if index % CHUNK == CHUNK - 1:
            households.flush()
            residents.flush()
    _close_all(writers)
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("UPDATE households h SET head_id = r.head FROM unnest(:ids, :heads) AS r(id, head)"
                                    " WHERE h.id = r.id"), dict(ids=list(range(1, spec.households + 1)), heads=heads))
        else:
            connection.execute(text("UPDATE households SET head_id = :head WHERE id = :id"),
                               [dict(id=i + 1, head=head) for i, head in enumerate(heads)])
        connection.commit()
    _fix_sequence("households")
    _fix_sequence("residents")
    db.session.commit()


def _build_books(county: County) -> None:
    """Per village, as create_rule, ensure_checklist (a village's first round) and create_shop write them: the rule
    book (RULE_BOOK, version 1 of each rule, ids in village order), the default checklist and the 积分超市 (shop id:
    the village's place + 1). The shop's products are written once their stock is known (_Backing.finish)."""
    rules, versions, items, shops = [], [], [], []
    for place, village in enumerate(county.villages):
        for index, (code, name, category, points, unit) in enumerate(RULE_BOOK):
            rule_id = place * len(RULE_BOOK) + index + 1
            rules.append(dict(id=rule_id, village_id=village, code=code))
            versions.append(dict(id=rule_id, rule_id=rule_id, version=1, name=name, category=CATEGORIES[category],
                                 points=points, unit=unit, for_registered=True, for_renters=True,
                                 evidence_required=False, self_claimable=category == PUBLICITY,
                                 effective_from=FIRST_DAY, created_at=CREATED))
        items += [dict(village_id=village, name=name, max_deduction=most, position=position, active=True)
                  for position, (name, most) in enumerate(DEFAULT_CHECKLIST)]
        shops.append(dict(id=place + 1, village_id=village, name="积分超市", low_stock=5))
    db.session.execute(insert(Rule), rules)
    db.session.execute(insert(RuleVersion), versions)
    db.session.execute(insert(ChecklistItem), items)
    db.session.execute(insert(Shop), shops)
    for table in ("rules", "rule_versions", "shops"):
        _fix_sequence(table)
    db.session.commit()


def _fix_sequence(table: str) -> None:
    """PostgreSQL: the id sequence goes on after the ids written here, for the services' later inserts."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))


def _write_ledger(county: County, write: list[int], total: list[int], progress=print) -> None:
    """Write the entries of the layers in write (with what wrote them, for the first layer: _Backing), then the
    balances and period totals of the layers in total (all of the ledger's), household by household, and the grid
    totals from those in one statement; the tables' secondary indexes are dropped meanwhile and made again."""
    spec = county.spec
    started = time.perf_counter()
    counts = entry_counts(spec)
    sizes = _members(spec)
    categories = ["" if c is None else c.value for c in CATEGORIES]
    sources = [s.value for s in SOURCES]
    postgres = db.engine.dialect.name == "postgresql"
    null = "\\N" if postgres else None  # COPY's text format spells NULL so
    next_id = (db.session.scalar(select(func.max(LedgerEntry.id))) or 0) + 1
    db.session.commit()
    indexes = _drop_indexes(LedgerEntry.__table__, PeriodTotal.__table__, *(() if 0 not in write else (
        Event.__table__, Attendance.__table__, Score.__table__, Result.__table__, Posting.__table__,
        Redemption.__table__, RedemptionLine.__table__, StockMovement.__table__)))
    _execute("TRUNCATE period_totals, household_balances, grid_period_totals" if postgres
             else "DELETE FROM period_totals",
             *(() if postgres else ("DELETE FROM household_balances", "DELETE FROM grid_period_totals")))
    entries = _Writer("ledger_entries", ["id", "household_id", "resident_id", "amount", "category", "source",
                                         "occurred_on", "created_at", "note", "idempotency_key", "reverses_id",
                                         "hours", "rule_version_id"])
    totals = _Writer("period_totals", ["period", "household_id", "resident_id", "category", "total", "entries",
                                       "deducted", "hours"])
    balances = _Writer("household_balances", ["household_id", "balance"])
    backing = _Backing(county, postgres) if 0 in write else None  # its COPYs open after the indexes are gone
    writers = [entries, totals, balances, *(() if backing is None else backing.writers)]
    _sqlite_share_writer(writers)
    place = {village: place for place, village in enumerate(county.villages)}
    generated = 0
    first_resident = 1
    layers = sorted(set(write) | set(total))
    for index in range(spec.households):
        household = index + 1
        members = sizes[index]
        village, grid, _number = _grid_of(spec, index)
        first_rule = place[village] * len(RULE_BOOK) + 1  # version ids are the rule ids (_build_books)
        sums, balance = {}, 0
        for layer in layers:
            moves = movements(_household_rng(spec.seed, layer, household), counts[index], members)
            generated += len(moves)
            if layer in write:
                first = next_id
                for day, amount, category, source, member, hours, reverses, posted in moves:
                    # A reversal keeps the rule of the entry it undoes: its sign is the other way round.
                    rule = RULE_OF.get((category, (amount > 0) == (reverses < 0))) if source != INSPECTION else None
                    entries.add((next_id, household, first_resident + member - 1 if member else null, amount,
                                 categories[category] or null, sources[source], DAY_TEXT[day], CREATED_TEXT[posted],
                                 "", f"county:{next_id:010d}", first + reverses if reverses >= 0 else null, hours,
                                 null if rule is None else first_rule + rule))
                    next_id += 1
                if layer == 0 and backing is not None:
                    backing.household(household, village, grid, first_resident, first, moves)
            if layer in total:
                balance += add_to_totals(sums, moves)
        for key, (amount, count, deducted, hours) in household_totals(sums).items():
            member = (key >> 3) & 7
            totals.add((PERIOD_KEYS[key >> 6], household, first_resident + member - 1 if member else 0,
                        categories[key & 7], amount, count, deducted, hours))
        if counts[index]:
            balances.add((household, balance))
        first_resident += members
        if index % CHUNK == CHUNK - 1:
            for writer in writers:
                writer.flush()
            if not postgres and index % (CHUNK * 25) == CHUNK * 25 - 1:
                entries.raw.commit()
    if backing is not None:
        backing.close()
    _close_all(writers)
    if backing is not None:
        backing.finish()
    if postgres:
        _fix_sequence("ledger_entries")
        db.session.commit()
    loaded = time.perf_counter() - started
    progress(f"ledger layers {write[0]}…{write[-1]}: wrote {entries.count} entries, {totals.count} period totals "
             f"({generated} entries generated, {generated / loaded:,.0f}/s): {loaded:.1f} s")
    started = time.perf_counter()
    _write_grid_totals()
    grids = time.perf_counter() - started
    progress(f"grid totals added up from the period totals: {grids:.1f} s")
    started = time.perf_counter()
    _create_indexes(indexes)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    if postgres:  # VACUUM as autovacuum would have by then: index-only scans need the visibility map
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        _execute("PRAGMA analysis_limit=10000", "ANALYZE")
    analyzed = time.perf_counter() - started
    progress(f"indexes made again: {indexed:.1f} s; ANALYZE: {analyzed:.1f} s")
    county.timings[f"ledger {len(total)}x"] = loaded + grids + indexed + analyzed

"""Schemathesis over /api/v1/openapi.json: every operation, called with a town admin's token on a small village,
answers without a server error and as the document says (status, content type, body).

Each operation that writes gets a village of its own, so that what one operation changes (an event closed, a
redemption voided) never decides another's answers; the reading ones share one. Generated ids are swapped for the
village's rows, so that most requests reach real rows rather than 404s. Schemathesis's pytest integration
(schemathesis.pytest.from_fixture) fails on pytest 9.2's node ids, so each operation is driven here through its
Python API (APIOperation.as_strategy) with Hypothesis, one subtest each, derandomized so that CI repeats the run.
"""
from dataclasses import dataclass, field
from datetime import timedelta

import schemathesis
from flask import current_app
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from points.auth.cards import issue_card
from points.auth.models import Role
from points.auth.services import issue_token
from points.claims import services as claim_services
from points.events import checkins as event_checkins
from points.events import services as event_services
from points.extensions import db
from points.hygiene import inspection, monthly, publishing, village_settings
from points.ledger import services as ledger_services
from points.people.cards import card_text
from points.periods import week_of
from points.rules.models import RuleCategory
from points.shop import services as shop_services
from points.timeutil import local_today, utc_to_local, utcnow

from .. import factories

EXAMPLES = 8  # per operation, valid and invalid requests together: about 40 s for the whole API


def success_documented(ctx, response, case) -> None:
    """A success must be one the operation lists. Every operation also has flask-smorest's "default" response, which
    status_code_conformance accepts for any status; it stands for the errors, whose body is then still checked."""
    if response.status_code < 400 and str(response.status_code) not in case.operation.definition.raw["responses"]:
        raise AssertionError(f"{response.status_code} is not a documented answer of {case.operation.label}")


CHECKS = [not_a_server_error, status_code_conformance, success_documented, content_type_conformance,
          response_schema_conformance]


@dataclass
class World:
    """A town admin's token, and the ids of one village's rows by the names the API gives them."""

    headers: dict[str, str]
    ids: dict[str, object] = field(default_factory=dict)

    def aim(self, case) -> None:
        """Replace the case's generated ids (and card and token texts) by this village's; invalid values stay."""
        for location in (case.path_parameters, case.query):
            if location:
                self._swap(location)
        if isinstance(case.body, dict):
            self._swap(case.body)
            # The document cannot say "one of": a basket names its household by id or by card, a check-in is a
            # villager's token or staff's card or resident. Keep one, or no valid body would ever be sent.
            if "household_id" in case.body:
                case.body.pop("card", None)
            if "card" in case.body or "resident_id" in case.body:
                case.body.pop("token", None)

    def _swap(self, values: dict) -> None:
        for name, value in values.items():
            real = self.ids.get(name)
            if real is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                values[name] = real
            elif isinstance(value, str) and name in ("card", "token"):
                values[name] = real
            elif isinstance(real, list) and isinstance(value, list) and value and all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
                values[name] = real[: len(value)]
        for name in ("lines", "items"):  # a basket's products, a score sheet's checklist items
            if isinstance(values.get(name), list):
                for line in values[name]:
                    if isinstance(line, dict):
                        self._swap(line)


def build_world() -> World:
    """A town admin over a village of three grids with two households each; rules, entries, a claim with a photo
    and an appeal; a round of last week scored and published and last month's summary; an event under way with a
    check-in; a shop with two products and a redemption."""
    village = factories.gen_village()
    admin = factories.gen_user(Role.TOWN_ADMIN, village.town)
    households = [factories.gen_household(grid, name) for grid in village.grids for name in ("张三明", "李四")]
    home = households[0]
    villager = factories.gen_villager(home)
    since = local_today() - timedelta(days=60)
    roles = frozenset({Role.TOWN_ADMIN, Role.VILLAGE_ADMIN, Role.GRID_LEADER, Role.GRID_WORKER})
    award = factories.gen_rule(village.village, "庭院整洁", 5, effective_from=since, roles=roles, self_claimable=True,
                               evidence_required=True)
    volunteering = factories.gen_rule(village.village, "参加志愿活动", 3, RuleCategory.VOLUNTEERING,
                                      effective_from=since, roles=roles)
    penalty = factories.gen_rule(village.village, "乱堆乱放", -2, RuleCategory.VILLAGE_RULES, effective_from=since,
                                 roles=roles)
    factories.gen_points(home, 200)
    ledger_services.apply_rule(admin, home.id, award.id, factories.unique("award-"))
    deduction = ledger_services.apply_rule(admin, home.id, penalty.id, factories.unique("penalty-"))

    store = claim_services.PhotoStore(current_app.config["UPLOAD_FOLDER"], current_app.config["PHOTO_MAX_BYTES"])
    claim = claim_services.submit_claim(villager, award.id, [factories.gen_photo(size=(40, 30))], store)
    appeal = claim_services.submit_appeal(villager, deduction.id, "那天我不在家")

    round_ = inspection.round_for(village.village, week_of(local_today() - timedelta(days=7)))
    item = village_settings.checklist(village.village.id)[0]
    inspection.save_score(admin, round_, home.id, {item.id: 1})
    publishing.publish_round(admin, round_)
    last_month = local_today().replace(day=1) - timedelta(days=1)
    summary = monthly.publish_month(admin, village.village, f"{last_month:%Y-%m}")

    starts = utc_to_local(utcnow()).replace(microsecond=0) - timedelta(minutes=10)
    event = event_services.create_event(admin, village.village, event_services.EventTerms(
        "环境整治日", "村委会广场", starts, starts + timedelta(hours=2), volunteering.id))
    event_checkins.check_in_resident(admin, event, households[1].head.id, digest="")
    card = issue_card(admin, home)

    shop = shop_services.create_shop(admin, village.village, "积分超市")
    soap, rice = (shop_services.create_product(admin, shop, shop_services.ProductTerms(name, "袋", price), stock=20)
                  for name, price in (("肥皂", 5), ("大米", 20)))
    redemption = shop_services.redeem(admin, shop, [(soap.id, 1)], household_id=home.id).redemption
    db.session.commit()

    token, _ = issue_token(admin, 1)
    db.session.commit()
    ids = {
        "node_id": village.village.id, "village_id": village.village.id, "scope": village.village.id,
        "grid_id": village.grids[0].id, "household_id": home.id, "household_ids": [h.id for h in households],
        "resident_id": home.head.id, "entry_id": deduction.id, "rule_id": award.id, "claim_id": claim.id,
        "position": 1, "appeal_id": appeal.id, "round_id": round_.id, "item_id": item.id, "summary_id": summary.id,
        "event_id": event.id, "organizer_id": admin.id, "card": card_text(card),
        "token": event_checkins.static_token(event), "shop_id": shop.id, "product_id": rice.id,
        "redemption_id": redemption.id,
    }
    # Called through WSGI, answers come back as sent: a compressed one would not be decoded before it is checked.
    return World({"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}, ids)


def run_operation(operation, client, world: World) -> None:
    """EXAMPLES requests, valid and invalid, to one operation."""

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    def call(case):
        world.aim(case)
        try:
            case.call_and_validate(session=client, headers=world.headers, checks=CHECKS)
        finally:
            # The requests share the test's session: end its transaction as the end of a real request would, or a
            # server error would break every request after it.
            db.session.rollback()

    call()


def test_every_operation_answers_as_documented(app, client, subtests):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) > 40
    readers = None  # one village for the operations that change nothing: making one takes a second
    for operation in operations:
        with subtests.test(operation.label):
            if operation.method.upper() == "GET":
                readers = readers or build_world()
                world = readers
            else:
                world = build_world()
            run_operation(operation, client, world)

"""The clients of bench/load.py, for locust (headless): each user class is one figure.

    locust -f bench/locustfile.py --headless --users 50 --spawn-rate 50 --run-time 30s \
        --host http://127.0.0.1:8000 CheckinUser

BENCH_DATA names the JSON file bench/load.py wrote: the villagers' tokens with an open event and its code, and the
clerks' tokens with their shop, product and customers. Every request is a distinct piece of work (a villager checks
in to an event once; each basket has its own Idempotency-Key), so that no answer is the cheap "already done" one.
"""
import itertools
import json
import os
import uuid

from locust import FastHttpUser, constant, task

with open(os.environ["BENCH_DATA"], encoding="utf-8") as data_file:
    DATA = json.load(data_file)

# One iterator per locust process, shared by its users: each check-in (villager, event) is sent once. The baskets
# take the shops in turn, as 40 counters would send them, not one shop's customers after another.
CHECKINS = iter(DATA["checkins"])
FLOOR_CHECKINS = reversed(DATA["checkins"])  # from the other end: a run of CheckinUser before took from the start
BASKETS = itertools.cycle([(clerk, shop, product, households[turn % len(households)])
                           for turn in range(max(len(households) for *_, households in DATA["shops"]))
                           for clerk, shop, product, households in DATA["shops"] if households])


class TrivialUser(FastHttpUser):
    """The ceiling: /healthz asks the database for SELECT 1 and answers a line of JSON."""

    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/healthz", name="healthz")


def _post(user: FastHttpUser, path: str, name: str, token: str, body: dict) -> None:
    """One write with its own Idempotency-Key; anything but 201 counts as a failure."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    with user.client.post(path, json=body, name=name, headers=headers, catch_response=True) as response:
        if response.status_code != 201:
            response.failure(f"{response.status_code}: {response.text[:200]}")


class CheckinUser(FastHttpUser):
    """本人扫码签到 through the API: a villager's token and the code of their village's event."""

    wait_time = constant(0)
    path, name, checkins = "/api/v1/checkins", "checkin", CHECKINS

    @task
    def check_in(self):
        try:
            token, event_id, code = next(self.checkins)
        except StopIteration:
            self.environment.runner.quit()
            return
        _post(self, self.path, self.name, token, {"event_id": event_id, "token": code})


class RedemptionUser(FastHttpUser):
    """兑换 at the counter through the API: a clerk's token, one product for a household of the village."""

    wait_time = constant(0)
    path, name = "/api/v1/redemptions", "redemption"

    @task
    def redeem(self):
        token, shop_id, product_id, household_id = next(BASKETS)
        _post(self, self.path, self.name, token, {"shop_id": shop_id, "household_id": household_id,
                                                  "lines": [{"product_id": product_id, "quantity": 1}]})


class FloorCheckinUser(CheckinUser):
    """bench/floor.py's check-in: the statements of 本人扫码 alone, through SQLAlchemy Core."""

    path, name, checkins = "/bench/checkin", "checkin-floor", FLOOR_CHECKINS


class FloorRedemptionUser(RedemptionUser):
    """bench/floor.py's redemption: the statements of 兑换 alone, through SQLAlchemy Core."""

    path, name = "/bench/redemption", "redemption-floor"


class InOneRedemptionUser(RedemptionUser):
    """bench/floor.py's redemption with its writes in one statement (PostgreSQL)."""

    path, name = "/bench/redemption-in-one", "redemption-in-one"

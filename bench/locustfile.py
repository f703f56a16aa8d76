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
BASKETS = itertools.cycle([(clerk, shop, product, households[turn % len(households)])
                           for turn in range(max(len(households) for *_, households in DATA["shops"]))
                           for clerk, shop, product, households in DATA["shops"] if households])


class TrivialUser(FastHttpUser):
    """The ceiling: /healthz asks the database for SELECT 1 and answers a line of JSON."""

    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/healthz", name="healthz")


class CheckinUser(FastHttpUser):
    """本人扫码签到 through the API: a villager's token and the code of their village's event."""

    wait_time = constant(0)

    @task
    def check_in(self):
        try:
            token, event_id, code = next(CHECKINS)
        except StopIteration:
            self.environment.runner.quit()
            return
        with self.client.post("/api/v1/checkins", json={"event_id": event_id, "token": code}, name="checkin",
                              headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class RedemptionUser(FastHttpUser):
    """兑换 at the counter through the API: a clerk's token, one product for a household of the village."""

    wait_time = constant(0)

    @task
    def redeem(self):
        token, shop_id, product_id, household_id = next(BASKETS)
        body = {"shop_id": shop_id, "household_id": household_id, "lines": [{"product_id": product_id, "quantity": 1}]}
        with self.client.post("/api/v1/redemptions", json=body, name="redemption",
                              headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")

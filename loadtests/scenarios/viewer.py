"""Doctors and pharmacists reading the history of patients who consented at their facility (the viewer read mix).

Each user logs in once as a staff member of the fixture, then over and over lists the consents live at its
facility and reads one patient's medication or checkups (what its role may see there). A facility sees a consent
only after a reception user checked a patient in there and the patient consented, so early reads find nobody.
"""

from __future__ import annotations

import itertools
import random

import gevent
from locust import FastHttpUser, between, task

from loadtests.config import config
from loadtests.fixture_file import Staff
from loadtests.pacing import first_arrival, poisson_arrivals
from loadtests.scenarios.common import fixture

_next_staff = itertools.count()
LOGIN_ATTEMPTS = 5  # a 503 service_busy login is tried again after its Retry-After, up to this many times
CATEGORIES = {"doctor": ("medication", "checkup"), "pharmacist": ("medication",)}


class ViewerStaff(FastHttpUser):
    """A doctor or pharmacist at the viewer."""

    host = config.url
    fixed_count = config.viewers
    wait_time = poisson_arrivals(config.viewer_pace) if config.viewer_pace else between(20, 60)
    staff: Staff
    rng: random.Random

    def on_start(self) -> None:
        """Log in (one scrypt check per user, not per read)."""
        people = fixture().staff
        if not people:
            raise RuntimeError("the fixture file lists no staff: the viewer scenario needs them")
        self.staff = people[next(_next_staff) % len(people)]
        self.rng = random.Random()
        pace = config.viewer_pace
        gevent.sleep(first_arrival(self, pace, self.rng) if pace else self.rng.uniform(0, 1))
        self._login()

    def _login(self) -> None:
        for attempt in range(LOGIN_ATTEMPTS):
            with self.client.post("/v1/staff/login", json={"login": self.staff.login, "password": self.staff.password},
                                  name="POST /v1/staff/login", catch_response=True) as response:
                if response.status_code == 503 and attempt + 1 < LOGIN_ATTEMPTS:
                    # too many logins at once (scrypt is bounded): a browser user tries again as told
                    response.success()
                    wait = float(response.headers.get("Retry-After") or 1)
                else:
                    if response.status_code != 200:
                        response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                    return
            gevent.sleep(wait)

    @task
    def read(self) -> None:
        """Today's consented patients, then one patient's history in a category the role may read here."""
        with self.client.get("/v1/viewer/consents", name="GET /v1/viewer/consents", catch_response=True) as response:
            if response.status_code == 401:  # the session ended (or the login failed): log in again, as a browser
                response.success()
                self._login()
                return
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            patients = response.json()
        readable = [(p["consent_id"], c) for p in patients for c in p["categories"]
                    if c in CATEGORIES.get(self.staff.role, ())]
        if not readable:
            return
        consent_id, category = self.rng.choice(readable)
        path = "medications" if category == "medication" else "checkups"
        with self.client.get(f"/v1/viewer/consents/{consent_id}/{path}", name=f"GET /v1/viewer/consents/[id]/{path}",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
            elif not isinstance(response.json().get("records"), list):
                response.failure("the answer has no records list")

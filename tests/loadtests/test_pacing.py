"""Paced load-test users: random arrivals at the asked rate, never in step (loadtests/pacing.py).

Each test simulates users on a clock of its own: a user starts, its task lasts a while, then the wait function
says how long until its next start.
"""

from __future__ import annotations

import collections
import itertools
import random
import statistics

from loadtests.pacing import first_arrival, poisson_arrivals


class _User:
    """A bare object standing for a locust user (the wait function keeps its plan on it)."""


def _starts(*, users: int, rate: float, seconds: float, task_seconds: float, seed: int = 7) -> list[float]:
    """Start times of `users` paced users made at the same instant, each task lasting `task_seconds`."""
    now = 0.0
    wait = poisson_arrivals(rate, clock=lambda: now)
    starts: list[float] = []
    for index in range(users):
        user = _User()
        now = 0.0  # every user is made at 0
        start = first_arrival(user, rate, random.Random(seed * 1000 + index), clock=lambda: 0.0)
        while start < seconds:
            starts.append(start)
            now = start + task_seconds
            start = now + wait(user)
    return sorted(starts)


def test_users_made_together_do_not_arrive_together() -> None:
    # 200 terminals at 1.25 patients/s each, as the paced benchmark runs them: 250 starts/s, 12.5 per 50 ms on
    # average. In step, as locust's constant_throughput kept them, a 50 ms window held up to 200 and most held none.
    starts = _starts(users=200, rate=1.25, seconds=60, task_seconds=0.15)
    windows = collections.Counter(int(t / 0.05) for t in starts)
    counts = [windows.get(i, 0) for i in range(int(60 / 0.05))]
    assert abs(statistics.mean(counts) - 12.5) < 0.5
    assert max(counts) < 35  # a Poisson count of mean 12.5 exceeds 30 about once in 100,000 windows
    assert sum(1 for c in counts if c == 0) < 5  # P(0) = e^-12.5: none of 1,200 windows should be empty


def test_the_rate_holds_when_answers_are_slow() -> None:
    # tasks of half the mean gap: counting the gap from the planned start, not from the task's end, keeps the rate
    starts = _starts(users=50, rate=2.0, seconds=200, task_seconds=0.25)
    assert abs(len(starts) / 200 / 50 - 2.0) < 0.08
    # counted from the task's end instead, the rate would be 1 / (0.5 + 0.25) = 1.33 a second


def test_gaps_are_exponential_with_the_asked_mean() -> None:
    starts = _starts(users=1, rate=4.0, seconds=5000, task_seconds=0.0)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert abs(statistics.mean(gaps) - 0.25) < 0.01
    assert abs(statistics.stdev(gaps) - 0.25) < 0.015  # an exponential's deviation equals its mean
    assert abs(sum(1 for g in gaps if g > 0.25) / len(gaps) - 0.368) < 0.02  # P(gap > mean) = 1/e


def test_a_user_behind_its_plan_starts_at_once_and_owes_nothing() -> None:
    now = 0.0
    wait = poisson_arrivals(1.0, clock=lambda: now)
    user = _User()
    first_arrival(user, 1.0, random.Random(3), clock=lambda: now)
    now = 100.0  # a task that hung for 100 s: about 100 planned starts were missed
    waits = [wait(user)]
    for _ in range(200):
        now += waits[-1]
        waits.append(wait(user))
    assert statistics.mean(waits) > 0.8  # the missed starts are not made up in a burst of zero waits
    assert sum(1 for w in waits if w < 0.01) < 6  # as few near-zero gaps as chance gives (P = 1 %)

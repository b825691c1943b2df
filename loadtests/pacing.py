"""Paced users whose requests arrive at random, as patients do, never in step with each other.

Each paced user starts its task at the times of a Poisson process of its rate: the gap before the next start is
drawn from an exponential distribution and counted from the previous *planned* start, not from the end of the
task, so slow answers do not lower the rate. The sum over many users is then a Poisson process of their total
rate: the load of many independent desks.

Why not locust's `constant_throughput`: it counts from the moment a user was made, so a random sleep in
`on_start` (meant to spread users spawned together) is taken as the first task's run time and made up for by a
shorter wait; every user spawned at once stays in phase, and the service sees all of them in one burst per
period (measured: 200 paced users sent their verifications in bursts of 150-200 every 0.8 s, half of every
period empty, and the bursts, not the service, made the paced p99).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Protocol


class _Paced(Protocol):
    """What the wait function keeps on its user."""

    arrivals_rng: random.Random
    next_arrival: float | None


def first_arrival(user: object, rate: float, rng: random.Random | None = None, *,
                  clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds until the user's first start (to sleep in `on_start`): the first gap of its Poisson process, from
    which the next gaps are planned."""
    chosen = rng or random.Random()
    gap = chosen.expovariate(rate)
    user.arrivals_rng = chosen  # type: ignore[attr-defined]  # kept on the user for the later gaps
    user.next_arrival = clock() + gap  # type: ignore[attr-defined]
    return gap


def poisson_arrivals(rate: float, *, clock: Callable[[], float] = time.perf_counter) -> Callable[[object], float]:
    """A locust `wait_time`: task starts at the times of a Poisson process of `rate` per second.

    A user behind its plan (a task longer than the gap drawn) starts at once and catches up over the next gaps,
    but by at most one mean gap: after a stall it does not owe the service a burst of every start it missed.
    """
    most_behind = 1 / rate

    def wait(user: object) -> float:
        paced: _Paced = user  # type: ignore[assignment]
        if not hasattr(paced, "arrivals_rng"):  # no first_arrival in on_start: plan from now
            paced.arrivals_rng, paced.next_arrival = random.Random(), None
        now = clock()
        planned = now if paced.next_arrival is None else max(paced.next_arrival, now - most_behind)
        paced.next_arrival = planned + paced.arrivals_rng.expovariate(rate)
        return max(0.0, paced.next_arrival - now)

    return wait

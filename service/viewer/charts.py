"""Line charts of checkup values over time, laid out on the server for an inline SVG (no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56.0, 624.0, 28.0, 214.0  # the plot area inside the SVG
_INSET = 16.0  # keeps the first and last markers off the axes
_NICE_STEPS = (1, 2, 2.5, 5, 10)
_MAX_DATE_TICKS = 8


@dataclass(frozen=True, slots=True)
class Point:
    """One measured value at its place in the plot."""

    x: float
    y: float
    day: date
    value: Decimal


@dataclass(frozen=True, slots=True)
class Series:
    """One measure's points in time order, drawn as a line with markers."""

    key: str
    label: str
    points: tuple[Point, ...]

    @property
    def polyline(self) -> str:
        """The `points` attribute of the SVG polyline."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick: its position (x or y) and its label."""

    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart ready for the template: geometry, series and ticks."""

    key: str
    title: str
    unit: str
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


def nice_step(span: float, *, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` intervals over `span`."""
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(s * magnitude for s in _NICE_STEPS if s * magnitude >= raw * 0.999)


def _y_range(values: Sequence[float]) -> tuple[float, float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or 1.0  # no point on an axis, room for the value labels above the points
    low, high = low - pad, high + pad
    step = nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _decimals(step: float) -> int:
    exponent = Decimal(repr(round(step, 6))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _y_ticks(low: float, high: float, step: float, scale: Callable[[float], float]) -> tuple[Tick, ...]:
    count, decimals = round((high - low) / step), _decimals(step)
    return tuple(Tick(scale(low + i * step), f"{low + i * step:.{decimals}f}") for i in range(count + 1))


def _x_scale(days: Sequence[date]) -> Callable[[date], float]:
    first, last = min(days).toordinal(), max(days).toordinal()
    if first == last:
        return lambda day: (LEFT + RIGHT) / 2
    return lambda day: LEFT + _INSET + (day.toordinal() - first) / (last - first) * (RIGHT - LEFT - 2 * _INSET)


def _x_ticks(days: Sequence[date], scale: Callable[[date], float]) -> tuple[Tick, ...]:
    unique = sorted(set(days))
    every = math.ceil(len(unique) / _MAX_DATE_TICKS)
    return tuple(Tick(scale(day), f"{day.year}/{day.month:02d}") for day in unique[::every])


def line_chart(
    records: Sequence[Mapping[str, Any]], *, key: str, title: str, unit: str, measures: Sequence[tuple[str, str]]
) -> Chart | None:
    """A chart of `measures` ((field, label) pairs) by `examined_on`; None when none of them was measured."""
    measured = [r for r in records if any(r.get(field) is not None for field, _ in measures)]
    if not measured:
        return None
    values = [float(r[field]) for r in measured for field, _ in measures if r.get(field) is not None]
    low, high, step = _y_range(values)

    def y_of(value: float) -> float:
        return BOTTOM - (value - low) / (high - low) * (BOTTOM - TOP)

    x_of = _x_scale([r["examined_on"] for r in measured])
    ordered = sorted(measured, key=lambda r: r["examined_on"])
    series = tuple(
        Series(field, label, tuple(
            Point(x_of(r["examined_on"]), y_of(float(r[field])), r["examined_on"], r[field])
            for r in ordered if r.get(field) is not None
        ))
        for field, label in measures
    )
    return Chart(key, title, unit, tuple(s for s in series if s.points),
                 _x_ticks([r["examined_on"] for r in measured], x_of), _y_ticks(low, high, step, y_of))

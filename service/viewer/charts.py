"""Line charts of checkup values over time, laid out on the server for an inline SVG (no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

_INSET = 16.0  # keeps the first and last markers off the axes
_NICE_STEPS = (1, 2, 2.5, 5, 10)


@dataclass(frozen=True, slots=True)
class Frame:
    """The SVG's size and its plot area. A phone gets a narrow frame: the same 12-unit text is then ~12 px."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    max_date_ticks: int


WIDE = Frame(width=640, height=260, left=56.0, right=560.0, top=28.0, bottom=214.0, max_date_ticks=8)
NARROW = Frame(width=360, height=300, left=44.0, right=288.0, top=28.0, bottom=250.0, max_date_ticks=4)


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
class Threshold:
    """A reference line across the plot (a 特定健診 保健指導判定値 or 受診勧奨判定値)."""

    at: float
    value: str
    label: str
    kind: str  # guidance | referral
    label_y: float  # where its label sits: at the line, pushed apart when two lines are close


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart ready for the template: geometry, series, ticks and threshold lines."""

    key: str
    title: str
    unit: str
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    thresholds: tuple[Threshold, ...]
    frame: Frame

    @property
    def width(self) -> int:
        """The SVG's width in user units."""
        return self.frame.width

    @property
    def height(self) -> int:
        """The SVG's height in user units."""
        return self.frame.height

    @property
    def left(self) -> float:
        """Left edge of the plot area."""
        return self.frame.left

    @property
    def right(self) -> float:
        """Right edge of the plot area."""
        return self.frame.right

    @property
    def top(self) -> float:
        """Top edge of the plot area."""
        return self.frame.top

    @property
    def bottom(self) -> float:
        """Bottom edge of the plot area."""
        return self.frame.bottom


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


def _x_scale(days: Sequence[date], frame: Frame) -> Callable[[date], float]:
    first, last = min(days).toordinal(), max(days).toordinal()
    if first == last:
        return lambda day: (frame.left + frame.right) / 2
    span = frame.right - frame.left - 2 * _INSET
    return lambda day: frame.left + _INSET + (day.toordinal() - first) / (last - first) * span


def _x_ticks(days: Sequence[date], scale: Callable[[date], float], frame: Frame) -> tuple[Tick, ...]:
    unique = sorted(set(days))
    every = math.ceil(len(unique) / frame.max_date_ticks)
    return tuple(Tick(scale(day), f"{day.year}/{day.month:02d}") for day in unique[::every])


_LABEL_GAP = 13.0  # user units between two threshold labels (text is 11-12 units high)


def _spread(lines: Sequence[tuple[float, str, str, str]]) -> tuple[Threshold, ...]:
    """Thresholds top to bottom, each label at least one text line below the one above it."""
    placed: list[Threshold] = []
    for at, value, label, kind in lines:
        label_y = max(at + 4, placed[-1].label_y + _LABEL_GAP) if placed else at + 4
        placed.append(Threshold(at, value, label, kind, label_y))
    return tuple(placed)


def line_chart(
    records: Sequence[Mapping[str, Any]], *, key: str, title: str, unit: str, measures: Sequence[tuple[str, str]],
    thresholds: Sequence[tuple[Decimal, str, str]] = (), frame: Frame = WIDE,
) -> Chart | None:
    """A chart of `measures` ((field, label) pairs) by `examined_on`; None when none of them was measured.

    `thresholds` ((value, label, kind) triples) are drawn as lines; the value axis always includes them.
    """
    measured = [r for r in records if any(r.get(field) is not None for field, _ in measures)]
    if not measured:
        return None
    values = [float(r[field]) for r in measured for field, _ in measures if r.get(field) is not None]
    low, high, step = _y_range([*values, *(float(t[0]) for t in thresholds)])

    def y_of(value: float) -> float:
        return frame.bottom - (value - low) / (high - low) * (frame.bottom - frame.top)

    x_of = _x_scale([r["examined_on"] for r in measured], frame)
    ordered = sorted(measured, key=lambda r: r["examined_on"])
    series = tuple(
        Series(field, label, tuple(
            Point(x_of(r["examined_on"]), y_of(float(r[field])), r["examined_on"], r[field])
            for r in ordered if r.get(field) is not None
        ))
        for field, label in measures
    )
    lines = _spread(sorted((y_of(float(value)), format(value, "f"), label, kind) for value, label, kind in thresholds))
    return Chart(key, title, unit, tuple(s for s in series if s.points),
                 _x_ticks([r["examined_on"] for r in measured], x_of, frame), _y_ticks(low, high, step, y_of),
                 lines, frame)

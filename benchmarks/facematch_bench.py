"""Milliseconds per face match at 640x480 on one core: detection, landmarks, encoding, with and without
downscaling before detection; then a whole `FaceMatcher.match` (card photo + 10 frames) and how long the
event loop stalls while `AsyncFaceMatcher` works.

    .venv/bin/python -m benchmarks.facematch_bench [--rounds 15]

Pinned to CPU 0 with BLAS/OpenMP threads at 1 before numpy and dlib are imported. Prints the median and the
best of the rounds (a shared machine is noisy). The frame is scikit-image's astronaut placed at 640x480.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data as skdata  # noqa: E402

from facematch import AsyncFaceMatcher, FaceMatcher, Image, encode_image  # noqa: E402
from facematch import testing as synth  # noqa: E402
from facematch._engine import Box, FaceEngine, points  # noqa: E402
from facematch._matcher import Worker  # noqa: E402

cv2.setNumThreads(1)


def timed(function: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, best) in milliseconds."""
    function()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def row(label: str, figures: tuple[float, float]) -> None:
    print(f"  {label:52} {figures[0]:8.1f} {figures[1]:8.1f}")


def stages(engine: FaceEngine, frame: Image, rounds: int) -> None:
    print(f"\nOne 640x480 frame, stage by stage (ms)          {'median':>14} {'best':>8}")
    for side, upsample in [(None, 1), (None, 0), (480, 0), (320, 0), (320, 1)]:
        label = f"detection at {side or 640}px{' upsampled x2' if upsample else ''}"
        boxes = engine.detect(frame, longest_side=side, upsample=upsample)
        found = f" ({len(boxes)} box, score {boxes[0].score:.2f})" if boxes else " (no face)"
        row(
            label + found,
            timed(lambda s=side, u=upsample: engine.detect(frame, longest_side=s, upsample=u), rounds),
        )
    box: Box = engine.detect(frame, longest_side=480)[0]
    shape = engine.landmarks(frame, box)
    row("68 landmarks", timed(lambda: engine.landmarks(frame, box), rounds))
    row("encoding (ResNet, 128-d)", timed(lambda: engine.encode(frame, shape), rounds))
    for side, upsample in [(None, 1), (480, 0)]:

        def one(s: int | None = side, u: int = upsample) -> None:
            found = engine.detect(frame, longest_side=s, upsample=u)[0]
            engine.encode(frame, engine.landmarks(frame, found))

        row(
            f"detection+landmarks+encoding, detect at {side or 640}{' x2' if upsample else ''}",
            timed(one, rounds),
        )


def whole(matcher: FaceMatcher, card: bytes, frames: list[Image], rounds: int) -> None:
    print(f"\nWhole attempt: card photo (176x192 JPEG 2000) + 10 frames (ms) {'median':>5} {'best':>8}")
    for side in (None, 480, 320):
        scaled = FaceMatcher(engine=matcher.engine, downscale_to=side)
        outcome = scaled.match(card, frames).outcome
        row(
            f"FaceMatcher.match, detect at {side or 640}px -> {outcome}",
            timed(lambda m=scaled: m.match(card, frames), max(3, rounds // 3)),
        )


async def loop_lag(matcher: FaceMatcher, card: bytes, frames: list[Image], kind: Worker) -> float:
    """Largest delay (ms) of a 5 ms ticker on the event loop while a match runs in the worker."""
    worker = AsyncFaceMatcher(matcher, worker=kind)
    await worker.warm_up()
    lags: list[float] = []
    task = asyncio.ensure_future(worker.match(card, frames))
    while not task.done():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.perf_counter() - started) * 1000 - 5)
    await task
    worker.close()
    return max(lags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    astronaut = np.ascontiguousarray(skdata.astronaut())
    frame = synth.camera_frame(astronaut, face_box=(175, 76, 266, 167))
    matcher = FaceMatcher()
    engine = matcher.engine
    print(
        f"CPU affinity {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}, "
        f"face about {engine.detect(frame, longest_side=None)[0].width}px wide in a 640x480 frame"
    )
    stages(engine, frame, rounds)
    landmarks = points(engine.landmarks(frame, engine.detect(frame, longest_side=480)[0]))
    frames = synth.live_sequence(frame, landmarks, np.random.default_rng(0))
    card = encode_image(cv2.resize(astronaut[20:260, 110:330], (176, 192), interpolation=cv2.INTER_AREA), ".jp2")
    whole(matcher, card, frames, rounds)
    print("\nEvent loop while AsyncFaceMatcher.match runs (a 5 ms ticker; CPU affinity inherited)")
    for kind in ("thread", "process"):
        lag = asyncio.run(loop_lag(matcher, card, frames, kind))  # type: ignore[arg-type]
        print(f"  worker={kind:8} largest tick delay {lag:6.1f} ms")


if __name__ == "__main__":
    main()

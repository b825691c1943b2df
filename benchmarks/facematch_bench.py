"""CPU per face-match attempt on one core: the stages, a whole challenged attempt, the card photo per visit.

    python3 dev.py run -m benchmarks.facematch_bench [--attempts 8] [--rounds 20]

Pinned to one CPU with BLAS/OpenMP threads at 1 before numpy, MediaPipe and dlib are imported. CPU time is
`time.process_time()` (every thread of the process), so it does not grow when the shared machine is busy;
wall time does, and is printed for reference. The frames are scikit-image's astronaut answering random
challenges (synthetic, rendered beforehand: rendering is not part of an attempt).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data as skdata  # noqa: E402

from facematch import AsyncFaceMatcher, FaceMatcher, MatchDecision  # noqa: E402
from facematch import testing as synth  # noqa: E402
from facematch._geometry import measure  # noqa: E402
from facematch._liveness import screen_score  # noqa: E402
from facematch._quality import face_crop, measure_face  # noqa: E402

cv2.setNumThreads(1)


def cpu_ms(function: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median CPU ms, median wall ms) of `function` over `rounds` calls, after one unmeasured call."""
    function()
    cpu, wall = [], []
    for _ in range(rounds):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        function()
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def row(label: str, figures: tuple[float, float]) -> None:
    print(f"  {label:58} {figures[0]:8.1f} {figures[1]:8.1f}")


def stages(matcher: FaceMatcher, frames: list[np.ndarray], card: bytes, rounds: int) -> None:
    print(f"\nStages, one 640x480 frame (ms)                              {'CPU':>8} {'wall':>8}")
    engine = matcher.engine
    plain, refined = engine.tracker(), engine.tracker(refine=True)
    index = iter(range(10**9))
    row("face mesh, tracking (468 points)", cpu_ms(lambda: plain.landmarks(frames[next(index) % len(frames)]), rounds))
    row("face mesh with the eye model (478 points, around a blink)",
        cpu_ms(lambda: refined.landmarks(frames[next(index) % len(frames)]), rounds))  # fmt: skip
    landmarks = engine.faces(frames[0])[0]
    row("pose, eye opening (geometry)", cpu_ms(lambda: measure(landmarks), rounds))
    row("quality gates and mask score (pauses only)", cpu_ms(lambda: measure_face(frames[0], landmarks), rounds))
    row("moiré score (one frame in four)", cpu_ms(lambda: screen_score(face_crop(frames[0], landmarks)), rounds))
    row("face mesh on a still (detection + 478 points)", cpu_ms(lambda: engine.faces(frames[0]), rounds))
    row("encoding the chosen frame (5 points + ResNet)", cpu_ms(lambda: engine.encode(frames[0], landmarks), rounds))
    row("card photo per visit (decode JPEG 2000, mesh, gates, encode)", cpu_ms(lambda: matcher.enrol(card), rounds))


def attempts(matcher: FaceMatcher, scene: synth.Scene, card: bytes, count: int) -> None:
    print(f"\nWhole attempts: {count} random challenges, frames as a camera delivers them (7-12 analysed per s)")
    card_face = matcher.enrol(card)
    cpu, wall, analysed, outcomes = [], [], [], []
    for seed in range(count):
        challenge = matcher.draw(random.Random(seed))
        frames = synth.live_attempt(scene, challenge, np.random.default_rng(seed))
        started = time.perf_counter()
        decision: MatchDecision = matcher.verify(card_face, challenge, frames)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append(decision.timings_ms["attempt_cpu_ms"])
        analysed.append(decision.timings_ms["frames_analysed"])
        outcomes.append(decision.outcome)
    median_frames = statistics.median(analysed)
    print(f"  challenge length {challenge.duration:.1f}s (last one); frames analysed median {median_frames:.0f}")
    print(f"  CPU per attempt (frames + one encoding): median {statistics.median(cpu):.0f} ms, "
          f"max {max(cpu):.0f} ms; wall median {statistics.median(wall):.0f} ms; outcomes {outcomes}")  # fmt: skip
    print(f"  plus the card photo, once per visit: {card_face.cpu_ms:.0f} ms CPU")


async def loop_lag(matcher: FaceMatcher, scene: synth.Scene, card: bytes) -> float:
    """Largest delay (ms) of a 5 ms ticker on the event loop while AsyncFaceMatcher runs an attempt."""
    worker = AsyncFaceMatcher(matcher)
    await worker.warm_up()
    challenge = matcher.draw(random.Random(99))
    frames = synth.live_attempt(scene, challenge, np.random.default_rng(99))

    async def attempt() -> None:
        session = await worker.start(await worker.enrol(card), challenge)
        for at, frame in frames:
            await session.feed(frame, at)
        await session.finish()

    lags: list[float] = []
    task = asyncio.ensure_future(attempt())
    while not task.done():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.perf_counter() - started) * 1000 - 5)
    await task
    worker.close()
    return max(lags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    astronaut = np.ascontiguousarray(skdata.astronaut())
    matcher = FaceMatcher()
    scene = synth.person(matcher.engine, astronaut)
    card = synth.chip_photo(astronaut[20:260, 110:330])
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"CPU affinity {affinity}; card photo {len(card)} bytes (176x192 JPEG 2000)")
    rng = np.random.default_rng(0)
    frames = [synth.camera(synth.render(scene, synth.Pose(yaw=8 * np.sin(i / 4))), rng) for i in range(24)]
    stages(matcher, frames, card, args.rounds)
    attempts(matcher, scene, card, args.attempts)
    lag = asyncio.run(loop_lag(matcher, scene, card))
    print(f"\nEvent loop while AsyncFaceMatcher runs a whole attempt (5 ms ticker): largest delay {lag:.0f} ms")


if __name__ == "__main__":
    main()

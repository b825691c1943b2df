"""Evaluate facematch on the real faces that packages ship: the match band, liveness, attacks, guidance.

    pip download --no-deps --no-binary :all: face_recognition==1.3.0 insightface==2.1 -d /tmp/faces
    python3 dev.py run -m benchmarks.facematch_eval \\
        --face-recognition-sdist /tmp/faces/face_recognition-1.3.0.tar.gz \\
        --insightface-sdist /tmp/faces/insightface-2.1.tar.gz [--split evaluation] [--attacks-per-kind 40]

Identities are split once, by name, before anything was tuned:
- tuning: scikit-image's astronaut (Eileen Collins) and matplotlib's Grace Hopper. Every liveness threshold in
  `facematch/_settings.py` was set looking at these only.
- evaluation: from the face_recognition 1.3.0 sdist (MIT): obama.jpg, obama2.jpg, obama3.jpg (three photos of
  one man: the only multi-photo identity any package ships), biden.jpg; from the insightface 2.1 sdist:
  Tom_Hanks_54745.png and the six people of t1.jpg; its mask pictures (mask_*.jpg) are the masks worn in (4).
The sdists are read in place (nothing is copied into the repository).

Sections: (1) the match band: genuine and impostor distances between a chip photo (176x192 JPEG 2000, about
4.5 KB) and camera frames, with 95% Clopper-Pearson bounds, leave-one-identity-out; (2) genuine attempts
(synthetic natural motion following random challenges): liveness pass rate (1 - BPCER) and outcomes;
(3) attacks: 13 kinds, each answering the challenge as well as its means allow, APCER per kind; (4) guidance:
masks and rolled heads must be guidance, never counted failures; (5) the chance that a recorded answer to one
challenge fits another (replays), by simulation of the timing and order rules.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tarfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from scipy.stats import beta
from skimage import data as skdata

from facematch import CardFace, FaceMatcher, Image, MatchDecision, QualitySettings, decode_image, encode_image
from facematch import testing as synth
from facematch._engine import FaceEngine
from facematch._geometry import FACE_OVAL
from facematch._liveness import judge

TUNING = ("astronaut", "Grace Hopper")


@dataclass
class Photo:
    person: str
    name: str
    image: Image


@dataclass
class Identity:
    person: str
    photos: list[Photo]
    cards: list[bytes]
    scenes: list[synth.Scene]

    def attempt_card(self, matcher: FaceMatcher) -> CardFace:
        """The first usable chip photo; when none is (a group photo's turned face), the live frame itself,
        gated loosely, so that liveness can still be measured for this identity (its distances are not reported)."""
        for card in self.cards:
            face = matcher.enrol(card)
            if face.usable:
                return face
        relaxed = FaceMatcher(engine=matcher.engine, card_quality=QualitySettings(max_yaw=90, max_pitch=90,
                              max_roll=90, mask_score=99, min_face_px=10, max_face_fraction=1.0))  # fmt: skip
        return relaxed.enrol(encode_image(synth.render(self.scenes[0], synth.Pose()), ".png"))


def bounds(failures: int, trials: int) -> tuple[float, float]:
    """Two-sided 95% Clopper-Pearson interval for a rate seen `failures` times in `trials`."""
    if trials == 0:
        return 0.0, 1.0
    low = 0.0 if failures == 0 else float(beta.ppf(0.025, failures, trials - failures + 1))
    high = 1.0 if failures == trials else float(beta.ppf(0.975, failures + 1, trials - failures))
    return low, high


def rate(failures: int, trials: int) -> str:
    low, high = bounds(failures, trials)
    share = failures / trials if trials else 0.0
    return f"{failures}/{trials} = {100 * share:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f}%)"


# --- the photos ------------------------------------------------------------------------------------------------


def load_photos(fr_sdist: Path | None, insight_sdist: Path | None) -> list[Photo]:
    """Every photo, labelled with its person."""
    hopper = decode_image((Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes())
    photos = [
        Photo("astronaut", "skimage astronaut", np.ascontiguousarray(skdata.astronaut())),
        Photo("Grace Hopper", "matplotlib grace_hopper.jpg", hopper),
    ]
    if fr_sdist:
        for name, who in [("obama", "Obama"), ("obama2", "Obama"), ("obama3", "Obama"), ("biden", "Biden")]:
            photos.append(Photo(who, f"{name}.jpg", _from_tar(fr_sdist, f"tests/test_images/{name}.jpg")))
    if insight_sdist:
        hanks = _from_tar(insight_sdist, "images/Tom_Hanks_54745.png")
        big = cv2.resize(hanks, (336, 336), interpolation=cv2.INTER_CUBIC)
        photos.append(Photo("Tom Hanks", "Tom_Hanks_54745.png", big))
        photos += list(_group(_from_tar(insight_sdist, "images/t1.jpg")))
    return photos


def _from_tar(path: Path, suffix: str) -> Image:
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(suffix))
        extracted = archive.extractfile(member)
        assert extracted is not None
        return decode_image(extracted.read())


def _group(image: Image) -> Iterator[Photo]:
    """Each face of insightface's t1.jpg as its own portrait (face plus margin, upscaled x2)."""
    from mediapipe.python.solutions import face_detection

    with face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.3) as detector:
        found = detector.process(image).detections or []
    height, width = image.shape[:2]
    boxes = sorted(
        (d.location_data.relative_bounding_box for d in found), key=lambda b: b.xmin  # left to right
    )
    for index, box in enumerate(boxes, 1):
        x0, y0 = int(box.xmin * width), int(box.ymin * height)
        w, h = int(box.width * width), int(box.height * height)
        pad = int(1.1 * w)
        crop = image[max(0, y0 - pad) : min(height, y0 + h + pad), max(0, x0 - pad) : min(width, x0 + w + pad)]
        big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        yield Photo(f"t1 person {index}", f"t1.jpg face {index}", np.ascontiguousarray(big))


def chip(engine: FaceEngine, photo: Photo) -> bytes:
    """The photo as a chip photo: head and shoulders, 176x192, JPEG 2000 of about 4.5 KB."""
    frame, landmarks = synth.place_face(engine, photo.image, face_width=95.0)
    oval = landmarks[list(FACE_OVAL), :2]
    cx, cy = oval.mean(axis=0)
    half_w, half_h = 95.0 * 0.95, 95.0 * 0.95 * 192 / 176
    x0, y0 = int(cx - half_w), int(cy - half_h * 0.95)
    portrait = frame[max(0, y0) : y0 + int(2 * half_h), max(0, x0) : x0 + int(2 * half_w)]
    return synth.chip_photo(np.ascontiguousarray(portrait))


def identities(engine: FaceEngine, photos: list[Photo]) -> list[Identity]:
    by_person: dict[str, list[Photo]] = {}
    for photo in photos:
        by_person.setdefault(photo.person, []).append(photo)
    result = []
    for who, group in by_person.items():
        usable, cards, scenes = [], [], []
        for photo in group:
            try:
                scenes.append(synth.person(engine, photo.image))
                cards.append(chip(engine, photo))
                usable.append(photo)
            except ValueError as exc:
                print(f"    {photo.name}: skipped ({exc})")
        if usable:
            result.append(Identity(who, usable, cards, scenes))
    return result


# --- (1) the match band ----------------------------------------------------------------------------------------


def section_band(matcher: FaceMatcher, people: list[Identity]) -> None:
    print("\n(1) Match band: chip photo (176x192 JPEG 2000) vs a camera frame (640x480, sensor noise, MJPG)")
    rng = np.random.default_rng(11)
    embeddings = {}
    for who in people:
        for i, scene in enumerate(who.scenes):
            frame = synth.camera(synth.render(scene, synth.Pose()), rng)
            faces = matcher.engine.faces(frame)
            embeddings[(who.person, i)] = matcher.engine.encode(frame, faces[0])[0] if faces else None
    genuine_other, genuine_same, impostor = [], [], []
    for who in people:
        for i, card in enumerate(who.cards):
            card_face = matcher.enrol(card)
            if not card_face.usable:
                print(f"    {who.person} card {i}: unusable ({card_face.report.refusals[0].reason.value})")
                continue
            for other in people:
                for j in range(len(other.scenes)):
                    frame_embedding = embeddings[(other.person, j)]
                    if frame_embedding is None:
                        continue
                    distance = float(np.linalg.norm(card_face.embedding - frame_embedding))
                    if other.person != who.person:
                        impostor.append((who.person, other.person, distance))
                    elif i == j:
                        genuine_same.append((who.person, distance))
                    else:
                        genuine_other.append((who.person, distance))
    _distribution("genuine, other photo of the person", [d for _, d in genuine_other])
    _distribution("genuine, same source photo (optimistic)", [d for _, d in genuine_same])
    _distribution("impostor", [d for _, _, d in impostor])
    closest = sorted(impostor, key=lambda item: item[2])[:3]
    print("    closest impostors: " + ", ".join(f"{a} card vs {b} {d:.3f}" for a, b, d in closest))
    genuine_all = [d for _, d in genuine_other + genuine_same]
    print(f"    gap: highest genuine {max(genuine_all):.3f}, lowest impostor {min(d for *_, d in impostor):.3f}")
    threshold, margin = matcher.settings.threshold, matcher.settings.undecided_margin
    print(f"    band: match <= {threshold:.2f} < undecided <= {threshold + margin:.2f} < no_match")
    false = sum(1 for *_, d in impostor if d <= threshold)
    print(f"    FMR at {threshold:.2f}: {rate(false, len(impostor))}")
    for label, values in [("other photo", genuine_other), ("same photo", genuine_same)]:
        missed = sum(1 for _, d in values if d > threshold)
        print(f"    FNMR ({label}) at {threshold:.2f}: {rate(missed, len(values))}")
    _leave_one_out(people, genuine_other + genuine_same, impostor)


def _distribution(label: str, values: Sequence[float]) -> None:
    if not values:
        print(f"    {label:42} n=0")
        return
    quartiles = np.percentile(values, [0, 25, 50, 75, 100])
    print(f"    {label:42} n={len(values):4}  min {quartiles[0]:.3f}  q1 {quartiles[1]:.3f}  median {quartiles[2]:.3f}"
          f"  q3 {quartiles[3]:.3f}  max {quartiles[4]:.3f}")  # fmt: skip


def _leave_one_out(
    people: list[Identity], genuine: list[tuple[str, float]], impostor: list[tuple[str, str, float]]
) -> None:
    """Threshold set without each identity (lowest impostor of the others minus 0.05), judged on it."""
    false = trials_false = missed = trials_missed = 0
    for who in people:
        others = [d for a, b, d in impostor if who.person not in (a, b)]
        if not others:
            continue
        threshold = min(others) - 0.05
        mine = [d for a, b, d in impostor if who.person in (a, b)]
        false += sum(1 for d in mine if d <= threshold)
        trials_false += len(mine)
        own = [d for p, d in genuine if p == who.person]
        missed += sum(1 for d in own if d > threshold)
        trials_missed += len(own)
    print("    leave one identity out (threshold = lowest impostor of the others - 0.05, judged on the one left):")
    print(f"      FMR {rate(false, trials_false)}; FNMR {rate(missed, trials_missed)}")


# --- (2) and (3): attempts ---------------------------------------------------------------------------------------


def _attempt_frames(kind: str, who: Identity, wearer: Image, matcher: FaceMatcher, seed: int) -> tuple:
    challenge = matcher.draw(random.Random(seed))
    rng = np.random.default_rng(seed)
    scene = who.scenes[seed % len(who.scenes)]
    if kind == "genuine":
        return challenge, synth.live_attempt(scene, challenge, rng)
    other = matcher.draw(random.Random(seed + 7919))
    photo = who.photos[seed % len(who.photos)].image
    context = synth.AttackContext(matcher.engine, photo, scene, wearer, challenge, rng, other)
    return challenge, {**synth.ATTACKS, **synth.KNOWN_GAPS}[kind](context)


def section_genuine(matcher: FaceMatcher, people: list[Identity], per_person: int, seed: int) -> None:
    print(f"\n(2) Genuine attempts: {per_person} per identity, natural motion following random challenges")
    passed = total = 0
    outcomes: Counter[str] = Counter()
    failed_checks: Counter[str] = Counter()
    cpu = []
    for who in people:
        card = who.attempt_card(matcher)
        for k in range(per_person):
            challenge, frames = _attempt_frames("genuine", who, _wearer(people, who), matcher, seed + 1000 * k)
            decision = matcher.verify(card, challenge, frames)
            total += 1
            live = decision.liveness is not None and decision.liveness.passed
            passed += live
            outcomes[_outcome(decision)] += 1
            cpu.append(decision.timings_ms.get("attempt_cpu_ms", 0.0))
            if not live and decision.liveness is not None:
                failed_checks.update(c.name.split(":")[-1] for c in decision.liveness.checks if not c.passed)
                print(f"      {who.person}: {_why(decision)}")
    print(f"    liveness failed (BPCER): {rate(total - passed, total)}")
    print(f"    outcomes: {dict(outcomes)}; failed checks: {dict(failed_checks)}")
    print(f"    CPU per attempt (frames + one encoding): median {statistics.median(cpu):.0f} ms, max {max(cpu):.0f} ms")


def section_attacks(matcher: FaceMatcher, people: list[Identity], per_kind: int, seed: int) -> None:
    print(f"\n(3) Attacks: {per_kind} attempts per kind, spread over the identities; 'passed' = outcome match")
    total = total_passed = 0
    for kind in [*synth.ATTACKS, *synth.KNOWN_GAPS]:
        if kind in synth.KNOWN_GAPS and total:
            print(f"    ALL ATTACKS ({len(synth.ATTACKS)} kinds): passed {rate(total_passed, total)}")
            print("    known gap, reported, not claimed to be stopped:")
            total = 0
        passed = live = 0
        checks: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        started = time.perf_counter()
        for k in range(per_kind):
            who = people[k % len(people)]
            card = who.attempt_card(matcher)
            challenge, frames = _attempt_frames(kind, who, _wearer(people, who), matcher, seed + 7 * k + 1)
            decision = matcher.verify(card, challenge, frames)
            passed += decision.matched
            live += decision.liveness is not None and decision.liveness.passed
            outcomes[_outcome(decision)] += 1
            if decision.liveness is not None:
                checks.update(c.name.split(":")[-1] for c in decision.liveness.checks if not c.passed)
        total += per_kind
        total_passed += passed
        seconds = time.perf_counter() - started
        print(f"    {kind:44} passed {rate(passed, per_kind)}; liveness passed {live}; "
              f"{dict(outcomes)}; failed checks {dict(checks)} [{seconds:.0f}s]", flush=True)  # fmt: skip


def _wearer(people: list[Identity], who: Identity) -> Image:
    return next(p for p in people if p.person != who.person).photos[0].image


def _outcome(decision: MatchDecision) -> str:
    reason = decision.refusals[0].reason.value if decision.refusals else ""
    counted = "counted" if decision.counts_as_failure else "not counted"
    return decision.outcome if decision.matched else f"{decision.outcome}/{reason}/{counted}"


def _why(decision: MatchDecision) -> str:
    return "; ".join(f"{r.reason.value}: {r.detail}" for r in decision.refusals)


# --- (4) guidance -------------------------------------------------------------------------------------------------


def section_guidance(
    matcher: FaceMatcher, people: list[Identity], masks: list[Image], per_person: int, seed: int
) -> None:
    print("\n(4) Guidance: masked faces and rolled heads must be told what to do, never counted")
    for label in ("mask", "rolled head 30-40°"):
        outcomes: Counter[str] = Counter()
        for who in people:
            card = who.attempt_card(matcher)
            for k in range(per_person):
                rng = np.random.default_rng(seed + k)
                challenge = matcher.draw(random.Random(seed + k))
                scene = who.scenes[0]
                if label == "mask":
                    texture = masks[k % len(masks)] if masks else None
                    frames = synth.live_attempt(synth.with_mask(scene, rng, texture), challenge, rng)
                else:
                    roll = rng.uniform(30, 40) * rng.choice([-1, 1])
                    track = [(at, replace(p, roll=p.roll + roll)) for at, p in synth.follow(challenge, rng)]
                    frames = synth.film(scene, track, rng)
                outcomes[_outcome(matcher.verify(card, challenge, frames))] += 1
        counted = sum(n for key, n in outcomes.items() if key.endswith("/counted"))
        print(f"    {label:20} {sum(outcomes.values())} attempts: {dict(outcomes)}; counted {counted}")


# --- (5) replays -------------------------------------------------------------------------------------------------


def section_replay_odds(matcher: FaceMatcher, trials: int) -> None:
    """A recorded correct answer to challenge A, judged against a fresh challenge B (pose tracks, no pixels)."""
    rng = np.random.default_rng(5)
    own = other = 0
    for k in range(trials):
        first = matcher.draw(random.Random(100_000 + k))
        second = matcher.draw(random.Random(200_000 + k))
        track = synth.follow(first, rng)
        greys = [rng.integers(0, 255, (4, 4), dtype=np.uint8) for _ in track]
        own += judge(first, synth.observations(track, rng), greys, matcher.settings.liveness).passed
        other += judge(second, synth.observations(track, rng), greys, matcher.settings.liveness).passed
    print(f"\n(5) Replays (pose tracks, no pixels; {trials} pairs of challenges):")
    print(f"    the answer judged against its own challenge passes {rate(own, trials)}")
    print(f"    judged against a fresh challenge (a replay) passes {rate(other, trials)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--face-recognition-sdist", type=Path)
    parser.add_argument("--insightface-sdist", type=Path)
    parser.add_argument("--split", choices=("evaluation", "tuning"), default="evaluation")
    parser.add_argument("--attacks-per-kind", type=int, default=40)
    parser.add_argument("--genuine-per-person", type=int, default=12)
    parser.add_argument("--replay-trials", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sections", default="12345")
    args = parser.parse_args()
    matcher = FaceMatcher()
    photos = load_photos(args.face_recognition_sdist, args.insightface_sdist)
    chosen = [p for p in photos if (p.person in TUNING) == (args.split == "tuning")]
    people = identities(matcher.engine, chosen)
    print(f"split {args.split}: {sum(len(p.photos) for p in people)} photos of {len(people)} people: "
          + ", ".join(f"{p.person} ({len(p.photos)})" for p in people))  # fmt: skip
    print(f"matcher: threshold {matcher.settings.threshold}, undecided up to "
          f"{matcher.settings.threshold + matcher.settings.undecided_margin:.2f}")  # fmt: skip
    if "1" in args.sections:
        section_band(matcher, people)
    if "2" in args.sections:
        section_genuine(matcher, people, args.genuine_per_person, args.seed)
    if "3" in args.sections:
        section_attacks(matcher, people, args.attacks_per_kind, args.seed)
    if "4" in args.sections:
        masks = []
        if args.insightface_sdist and args.split == "evaluation":
            masks = [_from_tar(args.insightface_sdist, f"images/mask_{c}.jpg") for c in ("white", "blue", "black")]
        section_guidance(matcher, people, masks, max(1, args.genuine_per_person // 4), args.seed)
    if "5" in args.sections:
        section_replay_odds(matcher, args.replay_trials)


if __name__ == "__main__":
    main()

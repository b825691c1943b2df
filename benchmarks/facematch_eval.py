"""Evaluate facematch on the real faces available offline; prints distances, counts and honest bounds.

    .venv/bin/python -m benchmarks.facematch_eval \
        [--face-recognition-sdist face_recognition-1.3.0.tar.gz] [--insightface-sdist insightface-2.1.tar.gz]

Faces: scikit-image's `astronaut` (always); from the face_recognition 1.3.0 sdist (MIT): obama.jpg,
obama2.jpg, obama3.jpg, biden.jpg; from the insightface 2.1 sdist: t1.jpg (six people) and
Tom_Hanks_54745.png. The sdists are read in place (`pip download --no-deps --no-binary :all: NAME==VER`),
nothing is copied. Without them, the two MIT crops in tests/facematch/data stand in for Obama and Biden.

Sections: (1) genuine distances under controlled changes of one photo; (2) genuine distances between
different photos of one person; (3) impostor distances between distinct people, with the one-sided 95%
upper bound on the false-match rate that so few pairs allow; (4) the full pipeline (card photo as a small
JPEG 2000, a synthetic live camera sequence) for every person against every card; (5) presentation attacks.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.stats import beta
from skimage import data as skdata

from facematch import FaceMatcher, Image, MatchDecision, QualitySettings, decode_image, encode_image
from facematch import testing as synth
from facematch._engine import Box, FaceEngine, points
from facematch._settings import CARD_PHOTO_QUALITY

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60)
Embedding = NDArray[np.float64]


@dataclass
class Photo:
    person: str
    name: str
    image: Image
    box: Box


def load_photos(engine: FaceEngine, fr_sdist: Path | None, insight_sdist: Path | None) -> list[Photo]:
    """Every usable real photo, one face each, labelled with the person."""
    photos = [_photo(engine, "astronaut (E. Collins)", "skimage astronaut", np.ascontiguousarray(skdata.astronaut()))]
    if fr_sdist:
        for name, person in [
            ("obama", "Obama"),
            ("obama2", "Obama"),
            ("obama3", "Obama"),
            ("biden", "Biden"),
        ]:
            image = _from_tar(fr_sdist, f"tests/test_images/{name}.jpg")
            photos.append(_photo(engine, person, f"{name}.jpg", image))
    else:
        for name, person in [("obama", "Obama"), ("biden", "Biden")]:
            image = decode_image((ROOT / "tests/facematch/data" / f"{name}.jpg").read_bytes())
            photos.append(_photo(engine, person, f"{name}.jpg (crop)", image))
    if insight_sdist:
        photos.append(
            _photo(engine, "T. Hanks", "Tom_Hanks_54745.png", _from_tar(insight_sdist, "Tom_Hanks_54745.png"))
        )
        photos += list(_group(engine, _from_tar(insight_sdist, "t1.jpg")))
    return [photo for photo in photos if photo.box.width > 0]


def _from_tar(path: Path, suffix: str) -> Image:
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(suffix))
        extracted = archive.extractfile(member)
        assert extracted is not None
        return decode_image(extracted.read())


def _photo(engine: FaceEngine, person: str, name: str, image: Image) -> Photo:
    boxes = [box for box in engine.detect(image, longest_side=None, upsample=1) if box.score > 0.3]
    return Photo(person, name, image, boxes[0] if boxes else Box(0, 0, 0, 0))


def _group(engine: FaceEngine, image: Image) -> Iterator[Photo]:
    """Each face of a group photo as its own portrait (face plus margin)."""
    boxes = sorted(engine.detect(image, longest_side=None, upsample=1), key=lambda box: box.left)
    for index, box in enumerate(b for b in boxes if b.score > 0.3):
        portrait, inner = _portrait(image, box, margin=1.2)
        yield Photo(f"t1 person {index + 1}", f"t1.jpg face {index + 1}", portrait, inner)


def _portrait(image: Image, box: Box, margin: float) -> tuple[Image, Box]:
    pad = int(margin * box.width)
    x0, y0 = max(0, box.left - pad), max(0, box.top - pad)
    x1, y1 = min(image.shape[1], box.right + pad), min(image.shape[0], box.bottom + int(1.4 * pad))
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    return crop, Box(box.left - x0, box.top - y0, box.right - x0, box.bottom - y0, box.score)


def embed(engine: FaceEngine, image: Image) -> Embedding | None:
    """The embedding of the best-scoring face, or None when no face is found."""
    boxes = engine.detect(image, longest_side=None, upsample=1 if max(image.shape[:2]) < 800 else 0)
    if not boxes:
        return None
    return engine.encode(image, engine.landmarks(image, boxes[0]))


def card_photo(photo: Photo, *, width: int = 176, height: int = 192) -> bytes:
    """The photo as on a chip: head and shoulders, about 176x192, JPEG 2000."""
    crop, _ = _portrait(photo.image, photo.box, margin=0.55)
    return encode_image(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), ".jp2")


# --- (1) controlled changes ---


def _rotate(angle: float) -> Callable[[Image], Image]:
    def apply(image: Image) -> Image:
        centre = (image.shape[1] / 2, image.shape[0] / 2)
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        size = (image.shape[1], image.shape[0])
        return np.asarray(cv2.warpAffine(image, matrix, size, borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8)

    return apply


def _jpeg(quality: int) -> Callable[[Image], Image]:
    return lambda image: decode_image(encode_image(image, ".jpg", quality))


def _gain(factor: float, offset: float = 0) -> Callable[[Image], Image]:
    return lambda image: np.clip(image.astype(np.float32) * factor + offset, 0, 255).astype(np.uint8)


def _gamma(value: float) -> Callable[[Image], Image]:
    return lambda image: (255 * (image / 255.0) ** value).astype(np.uint8)


def _blur(sigma: float) -> Callable[[Image], Image]:
    return lambda image: np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.uint8)


def _card_size(photo: Photo) -> Callable[[Image], Image]:
    return lambda image: decode_image(card_photo(Photo(photo.person, photo.name, image, photo.box)))


def _downscale_face_to(pixels: int, photo: Photo) -> Callable[[Image], Image]:
    def apply(image: Image) -> Image:
        scale = min(1.0, pixels / max(1, photo.box.width))
        return np.asarray(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    return apply


def _jp2_round_trip(rate: int) -> Callable[[Image], Image]:
    return lambda image: decode_image(encode_image(image, ".jp2", rate))


def changes(photo: Photo) -> dict[str, Callable[[Image], Image]]:
    """Name -> change applied to the whole photo."""
    return {
        "light x0.5 (dim)": _gain(0.5),
        "light x1.4+20 (bright)": _gain(1.4, 20),
        "gamma 2.0 (dark midtones)": _gamma(2.0),
        "gamma 0.5 (washed out)": _gamma(0.5),
        "blur sigma 1": _blur(1.0),
        "blur sigma 2": _blur(2.0),
        "JPEG quality 30": _jpeg(30),
        "JPEG quality 10": _jpeg(10),
        "face downscaled to 80 px": _downscale_face_to(80, photo),
        "card-photo size 176x192 (JP2)": _card_size(photo),
        "JPEG 2000 round trip (rate 50/1000)": _jp2_round_trip(50),
        "rotation 10 deg": _rotate(10),
        "rotation 20 deg": _rotate(20),
    }


def section_changes(engine: FaceEngine, photos: list[Photo]) -> list[float]:
    print("\n(1) Genuine distances under controlled changes (original photo vs changed copy)")
    print(f"{'change':38} {'n':>3} {'lost':>4} {'min':>6} {'median':>6} {'max':>6}")
    originals = {photo.name: embed(engine, photo.image) for photo in photos}
    everything: list[float] = []
    for change in changes(photos[0]):
        distances, lost = [], 0
        for photo in photos:
            reference = originals[photo.name]
            changed = embed(engine, changes(photo)[change](photo.image))
            if reference is None or changed is None:
                lost += 1
                continue
            distances.append(float(np.linalg.norm(reference - changed)))
        everything += distances
        print(f"{change:38} {len(distances):>3} {lost:>4} " + _stats(distances))
    print(f"{'all changes':38} {len(everything):>3} {'':>4} " + _stats(everything))
    return everything


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>6} {'-':>6} {'-':>6}"
    return f"{min(values):6.3f} {statistics.median(values):6.3f} {max(values):6.3f}"


# --- (2) and (3): genuine across photos, impostors ---


def section_pairs(engine: FaceEngine, photos: list[Photo]) -> tuple[list[float], list[float]]:
    embeddings = [(photo, embed(engine, photo.image)) for photo in photos]
    usable = [(photo, e) for photo, e in embeddings if e is not None]
    genuine, impostor = [], []
    for (a, ea), (b, eb) in itertools.combinations(usable, 2):
        distance = float(np.linalg.norm(ea - eb))
        (genuine if a.person == b.person else impostor).append(distance)
        if a.person == b.person:
            print(f"    genuine {a.name} vs {b.name}: {distance:.3f}")
    print("\n(2) Genuine distances between different photos of one person")
    print(f"    n={len(genuine)}  " + _stats(genuine) + "  (min median max)")
    people = len({photo.person for photo, _ in usable})
    print(f"\n(3) Impostor distances: {len(impostor)} pairs of photos of {people} distinct people")
    print(f"    min {min(impostor):.3f}  median {statistics.median(impostor):.3f}  max {max(impostor):.3f}")
    _bounds(impostor)
    return genuine, impostor


def _bounds(impostor: list[float]) -> None:
    print(f"    {'threshold':>9} {'false matches':>13} {'observed FMR':>12} {'95% upper bound':>15}")
    for threshold in THRESHOLDS:
        false = sum(1 for d in impostor if d <= threshold)
        print(
            f"    {threshold:9.2f} {false:>6} / {len(impostor):<6} {false / len(impostor):12.3f} "
            f"{upper_bound(false, len(impostor)):15.3f}"
        )


def upper_bound(false: int, pairs: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound on a rate seen `false` times in `pairs` trials."""
    return 1.0 if false >= pairs else float(beta.ppf(0.95, false + 1, pairs - false))


# --- (4) the full pipeline ---


@dataclass
class Person:
    photo: Photo
    card: bytes
    frames: list[Image]


def people(engine: FaceEngine, photos: list[Photo]) -> list[Person]:
    """One photo per person (the first), as a chip photo and as a synthetic live camera sequence."""
    chosen: dict[str, Photo] = {}
    for photo in photos:
        chosen.setdefault(photo.person, photo)
    result = []
    for index, photo in enumerate(chosen.values()):
        frame = synth.camera_frame(
            photo.image, face_box=(photo.box.left, photo.box.top, photo.box.right, photo.box.bottom)
        )
        boxes = engine.detect(frame, longest_side=480)
        if not boxes:
            print(f"    {photo.person}: no face in the camera frame, skipped")
            continue
        landmarks = points(engine.landmarks(frame, boxes[0]))
        frames = synth.live_sequence(frame, landmarks, np.random.default_rng(index))
        result.append(Person(photo, card_photo(photo), frames))
    return result


def section_pipeline(matcher: FaceMatcher, persons: list[Person]) -> None:
    print("\n(4) Full pipeline: card photo (176x192 JPEG 2000) vs a synthetic live sequence (10 frames 640x480)")
    print(f"    settings: {matcher.settings.camera_quality}")
    genuine, impostor = [], []
    outcomes: dict[str, list[str]] = {"genuine": [], "impostor": []}
    for card_owner, camera_person in itertools.product(persons, persons):
        decision = matcher.match(card_owner.card, camera_person.frames)
        kind = "genuine" if card_owner is camera_person else "impostor"
        outcomes[kind].append(decision.outcome if decision.distance is not None else _why(decision.refusals))
        if decision.distance is not None:
            (genuine if kind == "genuine" else impostor).append(decision.distance)
        if kind == "genuine":
            print(
                f"    {card_owner.photo.person:24} {decision.outcome:9} distance "
                f"{decision.distance if decision.distance is None else round(decision.distance, 3)} "
                f"liveness {decision.liveness.flags if decision.liveness else None} {_why(decision.refusals)}"
            )
    for kind, values in outcomes.items():
        counts = {outcome: values.count(outcome) for outcome in sorted(set(values))}
        print(f"    {kind}: {len(values)} attempts -> {counts}")
    print(f"    genuine distances   n={len(genuine)}  " + _stats(genuine))
    print(f"    impostor distances  n={len(impostor)}  " + _stats(impostor))
    _bounds(impostor)


def _why(refusals: tuple[object, ...]) -> str:
    return ",".join(getattr(r, "reason", "") for r in refusals)


# --- (5) presentation attacks ---


def attacks(person: Person, engine: FaceEngine, rng: np.random.Generator) -> dict[str, list[Image]]:
    """Name -> frame sequence of an attack against `person`'s card."""
    frame = person.frames[0]
    card_image = decode_image(person.card)
    held_card = synth.camera_frame(card_image, face_box=_card_box(card_image))
    return {
        "still image repeated as frames": synth.still_replay(frame),
        "printed photo moved in front of the camera": synth.photo_attack(frame, rng),
        "photo of the card photo, moved": synth.photo_attack(held_card, rng),
        "photo with cut-out blinking eyes": _cut_out_eyes(person, engine, rng),
        "screen replay of a still photo": synth.screen_replay(synth.still_replay(frame), rng),
        "screen replay of a live video (blink, head turn)": synth.screen_replay(person.frames, rng),
    }


def _card_box(card_image: Image) -> tuple[int, int, int, int]:
    height, width = card_image.shape[:2]
    return int(0.25 * width), int(0.25 * height), int(0.75 * width), int(0.75 * height)


def _cut_out_eyes(person: Person, engine: FaceEngine, rng: np.random.Generator) -> list[Image]:
    """A printed photo with the eyes cut out, the attacker's own eyes blinking behind: flat, but blinks."""
    frame = person.frames[0]
    landmarks = points(engine.landmarks(frame, engine.detect(frame, longest_side=480)[0]))
    shut = synth.close_eyes(frame, landmarks, 1.0)
    flat = synth.photo_attack(frame, rng)
    blinking = synth.photo_attack(shut, np.random.default_rng(int(rng.integers(1000))))
    return flat[:4] + blinking[4:6] + flat[6:]


def section_attacks(matcher: FaceMatcher, persons: list[Person]) -> None:
    print("\n(5) Presentation attacks (synthetic, from each real face), pose gates relaxed as in (4b), liveness on")
    print("    refused = not 'match'; 'by liveness' = refused by a liveness check rather than by a quality gate")
    rng = np.random.default_rng(7)
    rows: dict[str, Counter[str]] = {}
    for person in persons:
        for name, frames in attacks(person, matcher.engine, rng).items():
            _tally(rows.setdefault(name, Counter()), matcher.match(person.card, frames))
    rows["bona fide (synthetic live sequences)"] = Counter()
    for person in persons:
        _tally(rows["bona fide (synthetic live sequences)"], matcher.match(person.card, person.frames))
    for name, tally in rows.items():
        checks = {key[6:]: value for key, value in sorted(tally.items()) if key.startswith("check:")}
        print(
            f"    {name:50} {tally['attempts']:>2} attempts: refused {tally['refused']:>2} "
            f"(by liveness {tally['by liveness']:>2}), accepted {tally['accepted']:>2}; failed checks {checks}"
        )


def _tally(tally: Counter[str], decision: MatchDecision) -> None:
    tally["attempts"] += 1
    tally["accepted" if decision.matched else "refused"] += 1
    if decision.liveness is not None and not decision.liveness.passed:
        tally["by liveness"] += 1
        tally.update(f"check:{check.name}" for check in decision.liveness.checks if not check.passed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--face-recognition-sdist", type=Path, help="face_recognition-1.3.0.tar.gz")
    parser.add_argument("--insightface-sdist", type=Path, help="insightface-2.1.tar.gz")
    args = parser.parse_args()
    matcher = FaceMatcher()
    engine = matcher.engine
    photos = load_photos(engine, args.face_recognition_sdist, args.insightface_sdist)
    print(f"{len(photos)} photos of {len({p.person for p in photos})} people: " + ", ".join(p.name for p in photos))
    print(
        f"matcher: threshold {matcher.settings.threshold}, undecided up to "
        f"{matcher.settings.threshold + matcher.settings.undecided_margin:.2f}"
    )
    section_changes(engine, photos)
    section_pairs(engine, photos)
    persons = people(engine, photos)
    section_pipeline(matcher, persons)
    print("\n(4b) The same, pose gates relaxed to 45° and liveness off: these photos are not passport-style,")
    print("     and the distances between people are what is measured here")
    relaxed = QualitySettings(max_yaw=45, max_pitch=45, max_roll=35, max_face_fraction=0.9)
    relaxed_card = dataclasses.replace(CARD_PHOTO_QUALITY, max_yaw=45, max_pitch=45, max_roll=35)
    section_pipeline(
        FaceMatcher(engine=engine, camera_quality=relaxed, card_quality=relaxed_card, require_liveness=False),
        persons,
    )
    section_attacks(
        FaceMatcher(engine=engine, camera_quality=relaxed, card_quality=relaxed_card, require_liveness=True),
        persons,
    )


if __name__ == "__main__":
    main()

"""The kiosk's face check in Chromium with a fake camera: a synthetic patient answering the challenge of the
agent's demo seed is recognised; a still photo held up to the camera is refused and the PIN takes over.

What this proves: the page's camera preview, the frames it sends, the agent's facematch session (matching and
active liveness on those frames), the card's face counter and the fallback to the PIN. What it does not: that a
random challenge stops a replay (the demo seed makes the challenge predictable on purpose, so a video rendered
beforehand can answer it; facematch's own tests cover replays and random challenges).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from facematch import ChallengeSettings, draw_challenge
from service import cards
from service.linking import service as linking
from terminals.agent.app import kiosk_app
from terminals.agent.cli import KIOSK_RETRY
from terminals.agent.face import FaceDesk
from terminals.agent.kiosk import Kiosk
from terminals.agent.reader import DemoReader
from terminals.reception import ReceptionClient, make_client
from tests.agent.conftest import card_slot, new_page, snap
from tests.browser import CHROMIUM
from tests.factories import (
    eligibility_csv,
    eligibility_row,
    holder_of,
    identity,
    make_insurer,
    make_named_facility,
    make_terminal,
    upload_and_wait,
)
from virtualcard import VirtualCard

pytestmark = [pytest.mark.browser, pytest.mark.face]
SEED = 4242
FPS = 10
TAIL = 1.5  # the fake camera loops its file: never back to the start within an attempt
LEAD_IN = 0.3  # seconds of a still, frontal face before the answer: the page starts its clock a moment after
# the camera, and a person answers a prompt after reading it, not before


def write_y4m(path: Path, frames: list[np.ndarray], *, fps: int = FPS) -> Path:
    """Frames (RGB) as a Y4M 4:2:0 file, the format Chromium's fake camera plays."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            rgb = frame.astype(np.float32)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = (-0.168736 * r - 0.331264 * g + 0.5 * b + 128).reshape(height // 2, 2, width // 2, 2).mean((1, 3))
            v = (0.5 * r - 0.418688 * g - 0.081312 * b + 128).reshape(height // 2, 2, width // 2, 2).mean((1, 3))
            out.write(b"FRAME\n")
            for plane in (y, u, v):
                out.write(np.clip(plane + 0.5, 0, 255).astype(np.uint8).tobytes())
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The patient answering the seed's challenge, a still photo of her, and her chip photo."""
    from skimage import data as skdata

    from facematch._engine import get_engine
    from facematch.testing import camera, chip_photo, follow, person, render

    astronaut = np.ascontiguousarray(skdata.astronaut())
    scene = person(get_engine(), astronaut)
    challenge = draw_challenge(ChallengeSettings(), random.Random(SEED))
    rng = np.random.default_rng(1)
    track = follow(challenge, rng, fps=FPS)  # a patient answering the seed's challenge, with reaction times
    # every frame rendered through a noisy camera (identical frames would look like a frozen, injected image)
    times = np.arange(-LEAD_IN, challenge.duration + TAIL, 1 / FPS)
    answer = [camera(render(scene, min(track, key=lambda item: abs(item[0] - max(at, 0.0)))[1]), rng) for at in times]
    directory = tmp_path_factory.mktemp("camera")
    still = render(scene, track[0][1])  # her photo held up: it never moves
    return {
        "live": write_y4m(directory / "live.y4m", answer),
        "still": write_y4m(directory / "still.y4m", [camera(still, rng) for _ in times]),
        "photo": chip_photo(astronaut[20:260, 110:330]),
    }


@pytest.fixture
async def face_card(live: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI, tmp_path: Path,
                    videos: dict[str, Any]) -> VirtualCard:
    """A linked card whose chip photo is the patient's."""
    insurer = await make_insurer(conn)
    status = await upload_and_wait(live, insurer=insurer, body=eligibility_csv([eligibility_row()]))
    assert status["rows_accepted"] == 1
    path = tmp_path / "face.card.json"
    await cards.issue_card(conn, authority=app.state.authority, out=path, identity=identity(),
                           photo=(videos["photo"], "jp2"), pin="1234", pin_retry_limit=3, actor="test")
    card = VirtualCard.load(path)
    async with conn.transaction():
        outcome = await linking.register(conn, holder_id=await holder_of(conn, card), serial=card.serial,
                                         actor="test")
    assert outcome.status == "linked"
    return card


async def camera_browser(video: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
        yield browser
        await browser.close()


async def kiosk_page(browser: Any, agent: str, *, width: int) -> Any:
    page = await new_page(browser, width=width)
    await page.context.grant_permissions(["camera"], origin=agent)
    await page.goto(f"{agent}/kiosk/")
    await page.get_by_role("button", name="face", exact=True).click()
    await page.get_by_role("heading", name="本人確認の方法").wait_for()
    await page.get_by_role("button", name="顔認証").click()
    await page.locator("video.preview").wait_for()
    return page


def agent_for(live_url: str, token: str, slot: Path) -> Callable[[int], FastAPI]:
    def build(port: int) -> FastAPI:
        client = ReceptionClient(make_client(live_url, token), retry=KIOSK_RETRY)
        return kiosk_app(Kiosk(client=client, reader=DemoReader(slot)), port=port, face=FaceDesk(demo_seed=SEED))
    return build


async def test_the_patient_checks_in_with_her_face(
    face_card: VirtualCard, live_url: str, conn: asyncpg.Connection, tmp_path: Path, serve: Callable[..., str],
    videos: dict[str, Any],
) -> None:
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    agent = serve(agent_for(live_url, terminal["token"], card_slot(tmp_path, {"face": face_card})))
    async for browser in camera_browser(videos["live"]):
        page = await kiosk_page(browser, agent, width=390)
        # the challenge's prompts follow one another over the preview (the first movement: 顔を下に向けてください)
        await page.locator(".face-prompt").filter(has_text="向けてください").first.wait_for(timeout=60_000)
        await snap(page, "kiosk-face-390")
        await page.get_by_role("heading", name="同意の確認").wait_for(timeout=60_000)
    row = await conn.fetchrow("SELECT presence_method, liveness_passed, face_distance FROM verifications")
    assert row["presence_method"] == "face" and row["liveness_passed"] is True and row["face_distance"] < 0.4
    assert VirtualCard.load(face_card.path).face_failures == 0


async def test_a_photo_held_up_is_refused_and_the_pin_takes_over(
    face_card: VirtualCard, live_url: str, conn: asyncpg.Connection, tmp_path: Path, serve: Callable[..., str],
    videos: dict[str, Any],
) -> None:
    terminal = await make_terminal(conn, facility_code=await make_named_facility(conn, type_="clinic"))
    slot = card_slot(tmp_path, {"face": face_card})
    agent = serve(agent_for(live_url, terminal["token"], slot))
    async for browser in camera_browser(videos["still"]):
        page = await kiosk_page(browser, agent, width=1280)
        await page.get_by_role("heading", name="暗証番号を入力してください").wait_for(timeout=60_000)
        assert "顔認証できませんでした" in await page.get_by_role("alert").inner_text()
        await snap(page, "kiosk-face-refused-1280")
        for digit in "1234":
            await page.locator(".keypad").get_by_role("button", name=digit, exact=True).click()
        await page.get_by_role("button", name="確定").click()
        await page.get_by_role("heading", name="同意の確認").wait_for()
    assert await conn.fetchval("SELECT presence_method FROM verifications") == "pin"
    assert VirtualCard.load(slot / "face.card.json").face_failures == 1  # a refused presentation counts

"""The agent over HTTP: loopback Host only, its own origin only, no CORS headers, bad requests as error bodies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from terminals.agent.app import kiosk_app, portal_app
from terminals.agent.cli import HOST, build, build_parser
from terminals.agent.guard import OriginGuard
from terminals.agent.kiosk import Kiosk
from terminals.agent.portal import Portal
from terminals.agent.reader import DemoReader
from terminals.reception import ReceptionClient, make_client


@pytest.fixture
def agent(serve: Callable[..., str], tmp_path: Path) -> str:
    """A portal agent for a card file that does not exist (nothing here reaches the card or the service)."""
    return serve(lambda port: portal_app(Portal(http=httpx.Client(base_url="http://127.0.0.1:9"),
                                                card_path=tmp_path / "none.card.json"), port=port))


async def test_only_its_own_pages_may_call_it(agent: str) -> None:
    own = {"Origin": agent, "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=agent) as client:
        for headers in (
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},  # another site's fetch
            {"Origin": "null"},  # a sandboxed frame or a file:// page
            {"Origin": agent, "Sec-Fetch-Site": "same-site"},  # another port of the same machine
            {},  # a state change without an Origin: not from a page of the agent
            {**own, "Host": "rebind.example:80"},  # DNS rebinding: the page thinks it is another host
        ):
            answer = await client.post("/api/portal/sign-in", json={"pin": "1234"}, headers=headers)
            assert (answer.status_code, answer.json()["error"]) == (403, "origin_refused"), headers
            assert not any(name.lower().startswith("access-control-") for name in answer.headers)
        preflight = await client.options("/api/portal/sign-in", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
        own_page = await client.post("/api/portal/sign-in", json={"pin": "1234"}, headers=own)
        assert (own_page.status_code, own_page.json()["error"]) == (422, "card_unreadable")  # past the guard
        assert "access-control-allow-origin" not in own_page.headers
        page = await client.get("/portal/")
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"


async def test_bad_input_gets_the_error_body(agent: str) -> None:
    async with httpx.AsyncClient(base_url=agent, headers={"Origin": agent}) as client:
        for body in ({"pin": "12a4"}, {"pin": "12345"}, {}, []):
            answer = await client.post("/api/portal/sign-in", json=body)
            assert (answer.status_code, answer.json()["error"]) == (422, "invalid_input"), body
        signed_out = await client.get("/api/portal/consents")
        assert (signed_out.status_code, signed_out.json()["error"]) == (401, "signed_out")
        unknown = await client.get("/api/portal/secrets")
        assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")


def test_the_guard_names_the_loopback_origins_only() -> None:
    guard = OriginGuard(lambda scope, receive, send: None, port=8765)  # type: ignore[arg-type, return-value]
    assert guard.origins == {"http://127.0.0.1:8765", "http://localhost:8765"}
    assert HOST == "127.0.0.1"


def test_the_kiosk_needs_a_terminal_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONSHI_TERMINAL_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="no terminal token"):
        build(build_parser().parse_args(["kiosk", "--cards", str(tmp_path)]))


async def test_the_kiosk_answers_bad_requests_with_clear_errors(serve: Callable[..., str], tmp_path: Path) -> None:
    (tmp_path / "broken.card.json").write_text("{}")
    client = ReceptionClient(make_client("http://127.0.0.1:9", "ont_unused"))
    agent = serve(lambda port: kiosk_app(Kiosk(client=client, reader=DemoReader(tmp_path)), port=port))
    async with httpx.AsyncClient(base_url=agent, headers={"Origin": agent}) as http:
        for path, body, expected in (
            ("/api/kiosk/verify", {"method": "pin", "pin": "1234"}, (409, "no_card")),
            ("/api/kiosk/consent", {"categories": []}, (409, "no_card")),
            ("/api/kiosk/face/start", None, (409, "no_card")),
            ("/api/kiosk/place", {"card": "../../etc/passwd"}, (404, "no_such_card")),
            ("/api/kiosk/place", {"card": "nobody"}, (404, "no_such_card")),
            ("/api/kiosk/place", {"card": "broken"}, (422, "card_unreadable")),
            ("/api/kiosk/verify", {"method": "pin", "pin": "12"}, (422, "invalid_input")),
            ("/api/kiosk/verify", {"method": "telepathy"}, (422, "invalid_input")),
            ("/api/kiosk/consent", {"categories": ["genome"]}, (422, "invalid_input")),
        ):
            answer = await http.post(path, json=body)
            assert (answer.status_code, answer.json()["error"]) == expected, (path, body)
        frame = await http.post("/api/kiosk/face/frame?at=-1", content=b"x", headers={"Content-Type": "image/jpeg"})
        assert (frame.status_code, frame.json()["error"]) == (422, "invalid_input")
        assert (await http.get("/api/kiosk/cards")).json() == {"cards": ["broken"]}


def test_the_command_line_builds_both_agents(tmp_path: Path) -> None:
    kiosk = build(build_parser().parse_args(["kiosk", "--url", "http://127.0.0.1:9", "--token", "ont_x",
                                             "--cards", str(tmp_path), "--facility-type", "pharmacy"]))
    assert kiosk.state.kiosk.asked() == ["medication"] and kiosk.state.face.demo_seed is None  # random by default
    portal = build(build_parser().parse_args(["portal", "--url", "http://127.0.0.1:9", "--card", "c.card.json"]))
    assert str(portal.state.portal.http.base_url) == "http://127.0.0.1:9" and portal.state.portal.token is None

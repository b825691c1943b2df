"""Every client finds the service where the server listens, and says which address it tried when it cannot."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from terminals import insurer_upload, reception
from terminals.config import default_url


def test_the_default_url_follows_the_servers_settings() -> None:
    assert default_url({}) == "http://127.0.0.1:8000"
    assert default_url({"ONSHI_PORT": "8100"}) == "http://127.0.0.1:8100"
    assert default_url({"ONSHI_HOST": "0.0.0.0", "ONSHI_PORT": "9000"}) == "http://127.0.0.1:9000"
    assert default_url({"ONSHI_URL": "http://onshi.internal:80", "ONSHI_PORT": "8100"}) == "http://onshi.internal:80"


@pytest.mark.parametrize("module", [reception, insurer_upload])
def test_every_client_reads_onshi_port(module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONSHI_URL", raising=False)
    monkeypatch.setenv("ONSHI_PORT", "8123")
    parser = module.build_parser()  # type: ignore[attr-defined]
    args = ["x.csv", "--insurer", "06130017"] if module is insurer_upload else []
    assert parser.parse_args(args).url == "http://127.0.0.1:8123"


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def test_the_upload_client_names_the_address_it_tried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "fix.csv"
    batch.write_text("record_id\n")
    code = insurer_upload.main([str(batch), "--insurer", "06130017", "--token", "oni_x", "--url",
                                "http://127.0.0.1:8123", "--retries", "1", "--no-progress"],
                               transport=httpx.MockTransport(_refused), sleep=lambda _: None)
    assert code == 2
    assert "tried http://127.0.0.1:8123/v1/insurers/06130017/eligibility-batches" in capsys.readouterr().err

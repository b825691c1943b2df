"""One error model for the agent's pages: `{"error", "detail"}` (and `remaining` for a wrong PIN), as the service."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from terminals.reception import ReceptionError, ServiceError, ServiceUnavailable
from virtualcard import CardError, CardLocked, WrongPin


class AgentError(Exception):
    """An answer the page shows: status, code, a sentence in Japanese."""

    def __init__(self, status: int, code: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def from_card(exc: CardError) -> AgentError:
    """The card's own answers: a wrong PIN (attempts left), a lock, an unreadable file."""
    if isinstance(exc, WrongPin):
        return AgentError(403, "wrong_pin", f"暗証番号が違います。あと{exc.remaining}回間違えるとロックされます。",
                          remaining=exc.remaining)
    if isinstance(exc, CardLocked):
        return AgentError(423, "card_locked", "暗証番号が3回続けて違ったため、カードがロックされています。"
                          "解除はお住まいの市区町村の窓口で行ってください。")
    return AgentError(422, "card_unreadable", "カードを読み取れません。カードを置き直してください。")


def from_service(exc: ReceptionError) -> AgentError:
    """The service's answers: unreachable (the paper fallback), or its own error code and detail."""
    if isinstance(exc, ServiceUnavailable):
        return AgentError(503, "service_unavailable", "オンライン資格確認のサービスと通信できません。")
    if isinstance(exc, ServiceError):
        return AgentError(502 if exc.status_code >= 500 else 409, exc.error, exc.detail,
                          service_status=exc.status_code)
    return AgentError(502, "unexpected_answer", "サービスから想定外の応答がありました。")


async def agent_error(_request: Request, exc: Exception) -> JSONResponse:
    """Render an AgentError (registered for AgentError only: anything else is a bug and stays a 500)."""
    assert isinstance(exc, AgentError)
    body = {"error": exc.code, "detail": exc.detail, **exc.extra}
    return JSONResponse(body, status_code=exc.status, headers={"Cache-Control": "no-store"})


async def invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    """A malformed request body: 422 with the contract's body, never FastAPI's default shape."""
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()[:3])
    return JSONResponse({"error": "invalid_input", "detail": detail}, status_code=422)

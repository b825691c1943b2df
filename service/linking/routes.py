"""HTTP routes of linking: the insurer's review queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.accounts.auth import InsurerAuth, require_own_insurer
from service.core.deps import DB, PageOffset
from service.core.openapi import error_responses
from service.core.types import Timestamp
from service.linking import service

router = APIRouter(prefix="/v1/insurers", tags=["insurer"])


class LinkReview(BaseModel):
    """A record that could not be linked, with the fields that differ (record vs holder) and why."""

    record_id: str
    reason: str
    fields: dict[str, Any]
    created_at: Timestamp


@router.get("/{insurer_number}/link-reviews", responses=error_responses(401, 403, 404))
async def link_reviews(
    insurer_number: str, insurer: InsurerAuth, conn: DB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: PageOffset = 0,
) -> list[LinkReview]:
    """Open review items of this insurer, oldest first."""
    require_own_insurer(insurer, insurer_number)
    items = await service.list_reviews(conn, insurer_number=insurer_number, limit=limit, offset=offset)
    return [LinkReview.model_validate(item) for item in items]

"""Response models of batch upload."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from service.core.types import PageOffset, Timestamp

ErrorsOffset = PageOffset
ErrorsLimit = Annotated[int, Query(ge=0, le=10000)]


class BatchAccepted(BaseModel):
    """202: the batch is stored and queued."""

    batch_id: str
    status_url: str


class BatchRowError(BaseModel):
    """One row's error (row 0 is the header)."""

    row: int
    field: str | None
    error: str
    detail: str


class BatchStatus(BaseModel):
    """Progress and outcome of a batch."""

    batch_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    rows_total: int | None = Field(description="data rows in the upload (header and blank lines not counted)")
    rows_processed: int
    rows_accepted: int
    rows_rejected: int
    linked: int
    needs_review: int
    ambiguous: int
    failure: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    errors: list[BatchRowError]
    errors_offset: int
    errors_returned: int


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    "parameters": [{
        "name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"},
        "description": "the same key and body returns the same batch; the same key with another body is 409",
    }],
}

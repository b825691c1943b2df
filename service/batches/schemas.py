"""Response models of batch upload."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from service.core.deps import PageOffset
from service.core.types import Timestamp

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


class BatchProgress(BaseModel):
    """A batch's counters and times: columns of its row (`repository.BatchRow`) that its status shows as they are.

    Declared once for both: a column added here is read by the repository and shown by the status route.
    """

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


class _BatchIdentity(BaseModel):
    """The first fields of a batch's status (the row's `id` and `status` are typed otherwise there)."""

    batch_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]


class BatchStatus(BatchProgress, _BatchIdentity):
    """Progress and outcome of a batch."""

    # JSON order: _BatchIdentity's fields, BatchProgress's, then these (pydantic collects along the reversed MRO)
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

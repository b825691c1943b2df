"""HTTP routes of eligibility batches (insurers): receive (202) and status."""

from __future__ import annotations

from service.batches.routes import BatchRoutes, batch_router
from service.batches.uploaders import insurer_uploader

router = batch_router(BatchRoutes(
    kind="eligibility", path="/v1/insurers/{insurer_number}/eligibility-batches", uploader=insurer_uploader,
    tag="insurer", upload_errors=(401, 403, 404, 409, 413, 415, 422, 429),
    upload_name="upload_eligibility",
    upload_doc="Upload eligibility records (CSV or NDJSON); processed asynchronously, row by row.",
    status_name="eligibility_batch_status",
    status_doc="Status, counts and row errors (a page of them) of a batch.",
))  # fmt: skip

"""HTTP routes of checkup batches (insurers) and medication batches (claims processors): receive (202), status."""

from __future__ import annotations

from service.batches.routes import BatchRoutes, batch_router
from service.batches.uploaders import claims_uploader, insurer_uploader

checkup_router = batch_router(BatchRoutes(
    kind="checkup", path="/v1/insurers/{insurer_number}/checkup-batches", uploader=insurer_uploader,
    tag="insurer", upload_errors=(401, 403, 404, 409, 413, 415, 422, 429),
    upload_name="upload_checkups",
    upload_doc="Upload checkup results (特定健診) of the insurer's insured (CSV or NDJSON); processed "
               "asynchronously.",
    status_name="checkup_batch_status",
    status_doc="Status, counts and row errors (a page of them) of a checkup batch.",
))  # fmt: skip
medication_router = batch_router(BatchRoutes(
    kind="medication", path="/v1/claims/medication-batches", uploader=claims_uploader,
    tag="claims", upload_errors=(401, 403, 409, 413, 415, 422, 429),
    upload_name="upload_medications",
    upload_doc="Upload dispensed-medication records (薬剤情報, CSV or NDJSON); processed asynchronously.",
    status_name="medication_batch_status",
    status_doc="Status, counts and row errors (a page of them) of a medication batch.",
))  # fmt: skip

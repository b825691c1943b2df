"""The floor of the peak benchmark: a bare FastAPI app answering one POST with a small pydantic body.

`benchmarks.peak` runs it with the same uvicorn options, worker count and load generator as Onshi, two POSTs per
"verification" (as a verification is a challenge and a check), and divides Onshi's CPU per verification by this
app's CPU per pair of POSTs: a ratio that holds across machines where absolute figures do not.

    uvicorn benchmarks.floor_app:app
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="floor")


class Body(BaseModel):
    """A small body, like a challenge request."""

    purpose: str


@app.post("/floor", status_code=201)
async def floor(body: Body) -> dict[str, str]:
    """Echo the body: parsing, validation, serialisation, nothing else."""
    return {"purpose": body.purpose}

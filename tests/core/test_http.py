"""Operational endpoints, request ids, error bodies and the OpenAPI document."""

from __future__ import annotations

import httpx

from tests.factories import bearer


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
    metrics = await client.get("/metrics")
    assert 'onshi_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text


async def test_request_id_is_echoed_or_minted(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "clinic-42.req-7"})
    assert echoed.headers["x-request-id"] == "clinic-42.req-7"
    minted = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(minted.headers["x-request-id"]) == 32
    again = await client.get("/healthz")
    assert again.headers["x-request-id"] != minted.headers["x-request-id"]


async def test_errors_use_the_contract_body(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    no_token = await client.get("/v1/insurers/06130017/link-reviews")
    assert no_token.status_code == 401
    assert no_token.json()["error"] == "unauthorized"
    bad_token = await client.get("/v1/insurers/06130017/link-reviews", headers=bearer("oni_not-a-token"))
    assert bad_token.status_code == 401


async def test_openapi_lists_the_contract_paths(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/insurers/{insurer_number}/eligibility-batches",
        "/v1/insurers/{insurer_number}/eligibility-batches/{batch_id}",
        "/v1/insurers/{insurer_number}/link-reviews",
        "/v1/authority/holders",
        "/v1/authority/renewals",
    ):
        assert path in paths
    upload = paths["/v1/insurers/{insurer_number}/eligibility-batches"]["post"]
    assert set(upload["requestBody"]["content"]) == {"text/csv", "application/x-ndjson"}


async def test_a_huge_json_body_is_413_before_it_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/verifications", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                                 headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")
    assert response.headers["x-request-id"]

"""`/docs` (Swagger UI), `/redoc` (ReDoc) and `/`: served from the package, never from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from swagger_ui_bundle import swagger_ui_path

from service.core.resources import package_path

router = APIRouter(include_in_schema=False)
_REDOC = package_path("service.apidocs", "static")
_SWAGGER = Path(swagger_ui_path)
_SWAGGER_FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "oauth2-redirect.html"}
_ASSET_CACHE = {"Cache-Control": "max-age=86400"}
HOME = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Onshi</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7">
<h1>Onshi (オン資)</h1>
<p>Online health-insurance eligibility verification (オンライン資格確認), マイナ保険証 model.</p>
<ul>
<li><a href="/docs">API documentation (Swagger UI: Authorize, then Try it out)</a> ・ <a href="/redoc">ReDoc</a>
 ・ <a href="/openapi.json">openapi.json</a></li>
<li><a href="/viewer/">薬剤・健診情報の閲覧 (staff viewer)</a></li>
<li><a href="/fhir/R4/metadata">FHIR R4 CapabilityStatement</a></li>
<li><a href="/healthz">/healthz</a> ・ <a href="/readyz">/readyz</a> ・ <a href="/metrics">/metrics</a></li>
</ul>
</body></html>
"""


@router.get("/")
async def home() -> HTMLResponse:
    """A small page with the links a visitor looks for."""
    return HTMLResponse(HOME)


@router.get("/openapi.json")
async def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document, served by a route of ours (FastAPI's own is a bare Starlette route, which metrics and
    the access log could only call "unmatched")."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI from the swagger-ui-bundle-v2 package; Authorize keeps the tokens across reloads."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="Onshi API", swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url="/docs/assets/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": True, "withCredentials": True},
    )


@router.get("/docs/assets/{name}")
async def swagger_asset(name: str) -> Response:
    """Swagger UI's files (only the few the page loads)."""
    if name not in _SWAGGER_FILES:
        return Response(status_code=404)
    return FileResponse(_SWAGGER / name, headers=_ASSET_CACHE)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    """ReDoc, vendored (service/apidocs/static/README.md says from where), without web fonts."""
    return get_redoc_html(openapi_url="/openapi.json", title="Onshi API", redoc_js_url="/redoc/redoc.standalone.js",
                          redoc_favicon_url="/docs/assets/favicon-32x32.png", with_google_fonts=False)


@router.get("/redoc/redoc.standalone.js")
async def redoc_script() -> FileResponse:
    """The vendored ReDoc bundle."""
    return FileResponse(_REDOC / "redoc.standalone.js", media_type="text/javascript", headers=_ASSET_CACHE)

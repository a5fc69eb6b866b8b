"""The API docs, /docs (Swagger UI) and /redoc (ReDoc), with every asset served by this app, not a CDN.

FastAPI's own docs pages load Swagger UI and ReDoc from cdn.jsdelivr.net, so they are blank on a
machine without internet. The JS/CSS here come from the `fastapi-offline` package (a maintained
PyPI package that ships swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and a favicon)
and are mounted under /docs-assets. Create the app with `FastAPI(docs_url=None, redoc_url=None)` and
call `install_docs(app)` before any catch-all mount at "/". The pages stay public when API keys are set.

The pages also carry a Content-Security-Policy that lets them load nothing from other hosts: ReDoc
draws its "API docs by Redocly" logo from cdn.redoc.ly, which the browser now skips (the logo
hides itself when it fails to load) instead of waiting on a network that is not there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
# Inline script/style: FastAPI's pages start Swagger UI / ReDoc from an inline <script>; blob: for ReDoc's search worker.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
       "frame-ancestors 'self'; base-uri 'self'; form-action 'self'")


def assets_dir() -> Path:
    """The folder of the Swagger UI / ReDoc files the `fastapi-offline` package ships."""
    import fastapi_offline

    folder = Path(fastapi_offline.__file__).resolve().parent / "static"
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline at {folder} lacks {missing}: reinstall it (pip install -e .)")
    return folder


router = APIRouter(include_in_schema=False)


def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


@router.get(DOCS_URL, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    base = _base(request)
    return _local_only(get_swagger_ui_html(
        openapi_url=f"{base}{app.openapi_url}", title=f"{app.title} - API docs",
        swagger_js_url=f"{base}{ASSETS_URL}/swagger-ui-bundle.js", swagger_css_url=f"{base}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{base}{ASSETS_URL}/favicon.png", oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT_URL}",
        # validatorUrl null: no badge that asks validator.swagger.io about the spec
        swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None}))


@router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _local_only(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_URL, response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    app = request.app
    base = _base(request)
    return _local_only(get_redoc_html(openapi_url=f"{base}{app.openapi_url}", title=f"{app.title} - ReDoc",
                                      redoc_js_url=f"{base}{ASSETS_URL}/redoc.standalone.js",
                                      redoc_favicon_url=f"{base}{ASSETS_URL}/favicon.png", with_google_fonts=False))


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add /docs, /docs/oauth2-redirect and /redoc (no API key needed)."""
    if app.docs_url or app.redoc_url:
        raise RuntimeError("create the app with FastAPI(docs_url=None, redoc_url=None): install_docs serves them")
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
    app.include_router(router)

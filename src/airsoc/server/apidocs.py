"""The interactive API documentation, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
entirely by the app: the Swagger UI and ReDoc bundles come from the ``fastapi-offline`` package
(MIT) and are mounted at :data:`ASSETS_URL`; the pages start them from a static script
(``/static/apidocs.js``), so the documentation works without network access and under a
Content-Security-Policy that allows scripts from the app's own origin only.

Example:
    >>> html = swagger_page(title="airsoc", openapi_url="/openapi.json")
    >>> "<script>" in html, f'src="{ASSETS_URL}/swagger-ui-bundle.js"' in html
    (False, True)
    >>> (ASSETS_DIR / "redoc.standalone.js").is_file()
    True
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "ASSETS_URL", "install_api_docs", "redoc_page", "swagger_page"]

#: Where the Swagger UI and ReDoc bundles are served from, and where the package keeps them.
ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


def _page(*, title: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" type="image/png" href="{ASSETS_URL}/favicon.png">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def swagger_page(*, title: str, openapi_url: str) -> str:
    """Return the Swagger UI page for the OpenAPI document at ``openapi_url`` (no inline script)."""
    return _page(
        title=f"{title} - Swagger UI",
        head=f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">\n',
        body=(
            f'<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>\n'
            f'<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            '<script src="/static/apidocs.js"></script>\n'
        ),
    )


def redoc_page(*, title: str, openapi_url: str) -> str:
    """Return the ReDoc page for the OpenAPI document at ``openapi_url`` (no inline script)."""
    return _page(
        title=f"{title} - ReDoc",
        head="",
        body=(
            f'<redoc spec-url="{escape(openapi_url)}"></redoc>\n'
            f'<script src="{ASSETS_URL}/redoc.standalone.js"></script>\n'
        ),
    )


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the app's OpenAPI document."""
    app = request.app
    root = str(request.scope.get("root_path", ""))
    return HTMLResponse(swagger_page(title=app.title, openapi_url=f"{root}{app.openapi_url}"))


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the app's OpenAPI document."""
    app = request.app
    root = str(request.scope.get("root_path", ""))
    return HTMLResponse(redoc_page(title=app.title, openapi_url=f"{root}{app.openapi_url}"))


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` and their assets on ``app`` (created with ``docs_url=None``
    and ``redoc_url=None``, so FastAPI's CDN pages are not there)."""
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="apidocs")

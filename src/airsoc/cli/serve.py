"""``airsoc serve``: the API, the console and /metrics on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state

__all__ = ["register", "serve"]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Send the console cookie only over HTTPS (behind a TLS proxy)")
    ] = False,
    max_body_bytes: Annotated[
        int, typer.Option(min=1, help="Largest request body accepted (JSON, forms)")
    ] = 1 << 20,
    max_upload_bytes: Annotated[
        int, typer.Option(min=1, help="Largest evidence upload accepted")
    ] = 100 << 20,
    config: Annotated[
        Path | None,
        typer.Option(help="An airsoc.yaml whose charter and governance rules the API serves"),
    ] = None,
) -> None:
    """Serve the API (/api/v1), the console (/) and /metrics until interrupted."""
    import uvicorn

    from airsoc.server.app import create_app
    from airsoc.serving.limits import RequestLimits

    app = create_app(
        state.settings,
        clock=state.clock,
        store=state.store(),
        cookie_secure=secure_cookies,
        limits=RequestLimits(max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes),
    )
    if config is not None:
        from airsoc.server.routes.charter import serve_configuration

        serve_configuration(app, config)
    ui.console.print(f"airsoc on http://{host}:{port}/ (API at /api/v1, docs at /docs)")
    # uvicorn's access log prints paths only; no secret ever travels in a path or query.
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``airsoc serve`` to ``app``."""
    app.command()(serve)

"""``openapi`` and ``serve``: the HTTP API's document, and the API itself under uvicorn."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from campaign_core.cli._common import cli_state, handled, open_core
from campaign_core.errors import MissingDependencyError, ValidationError

__all__ = ["SECRET_ENV", "openapi", "serve"]

#: Where ``serve`` reads the secret the trusted backend signs actor headers with.
SECRET_ENV = "CAMPAIGN_CORE_HTTP_SECRET"


def _http() -> Any:
    # the HTTP layer sits on top of the core, like a host: imported only when asked for
    try:
        import campaign_core_http
    except ImportError as error:
        raise MissingDependencyError("http", "starlette") from error
    return campaign_core_http


def openapi(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
) -> None:
    """The HTTP API's OpenAPI 3.1 document (every path, body, response and error)."""
    state = cli_state(ctx)
    with handled(state):
        http = _http()
        platforms = open_core(state).settings.platforms.names if state.core else None
        document = http.openapi_document(platforms=platforms)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            logging.getLogger("campaign_core.cli.openapi").info(
                "wrote %d paths to %s", len(document["paths"]), output
            )


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    keep_alive: Annotated[
        int,
        typer.Option(
            "--keep-alive",
            min=1,
            help="Seconds an idle connection is kept open (uvicorn's default, 5). Set it above"
            " the idle timeout of the proxy or client pool in front, or a request sent on a"
            " connection the server is closing is lost.",
        ),
    ] = 5,
) -> None:
    """Serve the HTTP API with uvicorn; actors come signed with the secret in CAMPAIGN_CORE_HTTP_SECRET.

    Run ``campaign-core worker`` beside it: the API answers requests, the worker runs what
    is due.
    """
    state = cli_state(ctx)
    with handled(state):
        http = _http()
        secret = os.environ.get(SECRET_ENV, "")
        if len(secret.encode()) < 16:
            raise ValidationError.single(
                SECRET_ENV, "set it to the shared signing secret (at least 16 bytes)", "required"
            )
        try:
            import uvicorn
        except ImportError as error:
            raise MissingDependencyError("http", "uvicorn") from error
        core = open_core(state)
        app = http.create_app(
            core, actor_resolver=http.SignedActorHeaders(secret, clock=core.clock)
        )
        try:
            uvicorn.run(
                app,
                host=host,
                port=port,
                timeout_keep_alive=keep_alive,
                log_level="info" if state.verbose else "warning",
            )
        finally:
            core.close()

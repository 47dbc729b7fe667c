"""The endpoints for operators and for whoever opens the server's address: ``GET /`` (where
things are), ``GET /ready`` (readiness) and ``GET /metrics`` (Prometheus). ``/health``,
liveness, stays with the app."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .api.context import bearer
from .metrics import Metrics
from .replication import Repository

LINKS = {
    "/graphql": "GraphQL API (GraphiQL in a browser)",
    "/demo/": "demo app",
    "/health": "liveness",
    "/ready": "readiness",
    "/metrics": "Prometheus metrics",
}
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def routes(repository: Repository, metrics: Metrics) -> list[Route]:
    """``/``, ``/ready`` and ``/metrics`` of the server over ``repository``."""
    settings = repository.settings
    timeout = settings.connect_timeout

    async def index(request: Request) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            items = "".join(
                f'<li><a href="{path}">{escape(path)}</a>: {escape(what)}</li>'
                for path, what in LINKS.items()
            )
            return HTMLResponse(f"<!doctype html><title>graphql-repl</title><ul>{items}</ul>")
        return JSONResponse({"links": LINKS})

    async def ready(request: Request) -> Response:
        try:
            async with asyncio.timeout(timeout):
                reason = await repository.store.readiness()
        except TimeoutError:
            reason = f"the store did not answer within {timeout:g} s"
        if reason is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)

    async def scrape(request: Request) -> Response:
        refusal = _metrics_refusal(request, settings.metrics_token)
        if refusal is not None:
            return PlainTextResponse(refusal, status_code=401 if settings.metrics_token else 403)
        await metrics.refresh()
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return [Route("/", index), Route("/ready", ready), Route("/metrics", scrape)]


def _metrics_refusal(request: Request, token: str | None) -> str | None:
    """Why ``request`` may not read the metrics, or None: with a metrics token it must
    carry it (``Authorization: Bearer``); without one, it must come from the loopback."""
    if token is not None:
        given = bearer(request.headers.get("authorization")) or ""
        if hmac.compare_digest(given.encode(), token.encode()):
            return None
        return "GET /metrics needs Authorization: Bearer <GRAPHQL_REPL_METRICS_TOKEN>\n"
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return "GET /metrics answers the loopback only; set GRAPHQL_REPL_METRICS_TOKEN to open it\n"

"""``/metrics`` in Prometheus' text format (prometheus-client): requests and their latency per
route template, measured by :class:`MetricsMiddleware` in every worker (multi-process aware:
``weiwan serve --workers N`` gives the workers one ``PROMETHEUS_MULTIPROC_DIR``), and today's
work from the operational database (``ops.metrics``). Served only to the networks in
``WEIWAN_METRICS_ALLOWED`` (others get 404: the endpoint is not advertised).
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from weiwan.ops.base import utcnow
from weiwan.ops.metrics.service import Figure, todays_figures

#: the route label of requests no route matched (static files, unknown paths): one series,
#: not one per path a scanner tries
UNMATCHED = "(other)"
REQUESTS = Counter(
    "weiwan_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "weiwan_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of its body).",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

router = APIRouter(include_in_schema=False)


class MetricsMiddleware:
    """Counts each request and times it, labelled by its route's template (``/api/v1/tasks/
    {task_id}``, never the concrete path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            template = route_template(scope)
            method = str(scope.get("method", ""))
            REQUESTS.labels(method, template, str(status[0])).inc()
            LATENCY.labels(method, template).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's full template (``/api/v1/tasks/{task_id}``), else
    :data:`UNMATCHED`. The route in the scope carries its own router's part of the template
    only (FastAPI includes routers without copying their routes), so the prefix is the
    concrete path less as many trailing segments as that part has."""
    route = scope.get("route")
    own = getattr(route, "path", None)
    if not isinstance(own, str) or not own.startswith("/"):
        return UNMATCHED
    segments = str(scope.get("path", "")).split("/")
    tail = own.count("/")
    if tail >= len(segments):
        return own
    return "/".join(segments[: len(segments) - tail]) + own


class _Today(Collector):
    """Today's figures as gauges (collected once per scrape)."""

    def __init__(self, figures: list[Figure]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for figure in self.figures:
            labels = [k for k, _ in figure.labels]
            family = families.get(figure.name)
            if family is None:
                family = GaugeMetricFamily(figure.name, figure.help, labels=labels)
                families[figure.name] = family
            family.add_metric([v for _, v in figure.labels], figure.value)
        yield from families.values()


def allowed(address: str | None, networks: str) -> bool:
    """Whether ``address`` is in one of the comma-separated ``networks``."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in (n.strip() for n in networks.split(",") if n.strip()):
        if ip in ipaddress.ip_network(network, strict=False):
            return True
    return False


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """The metrics, to an allowed address; 404 to anyone else."""
    settings = request.app.state.settings
    client = request.client.host if request.client else None
    if not allowed(client, settings.metrics_allowed):
        raise HTTPException(404)

    def render() -> bytes:
        with request.app.state.session_factory() as session:
            figures = todays_figures(session, utcnow(), ZoneInfo(settings.timezone))
        today = CollectorRegistry()
        today.register(_Today(figures))
        return _requests() + generate_latest(today)

    body = await run_in_threadpool(render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _requests() -> bytes:
    """The request metrics: every worker's (multi-process mode) or this process'."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
    return generate_latest(REGISTRY)


def prepare_multiprocess(directory: Any) -> None:
    """Before the workers start: an empty ``directory`` for their metric files, named in
    ``PROMETHEUS_MULTIPROC_DIR`` (which prometheus-client reads when a worker imports it)."""
    import shutil
    from pathlib import Path

    path = Path(directory)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)

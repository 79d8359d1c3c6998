"""The Jinja2 environment of the pages: i18n, locale formatting, menu and CSRF in every page."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from weiwan.web import formatting
from weiwan.web.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    current_language,
    gettext,
    ngettext,
)
from weiwan.web.labels import template_globals
from weiwan.web.nav import menu_for
from weiwan.web.tables import export_url


def _tojson_attr(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block (``</`` escaped)."""
    text = json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/")
    return Markup(text)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment (templates are compiled once per process)."""
    env = Environment(
        loader=PackageLoader("weiwan.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=formatting.format_number,
        percent=formatting.format_percent,
        money=formatting.format_money,
        date=formatting.format_date,
        period=formatting.format_period,
        chart_json=_tojson_attr,
    )
    env.globals.update(languages=LANGUAGES, language_names=LANGUAGE_NAMES, **template_globals())
    return env


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """Starlette's renderer over :func:`environment` (adds ``request`` and ``url_for``)."""
    return Jinja2Templates(env=environment())


def page_context(request: Request) -> dict[str, Any]:
    """What every page template may use: the actor, its menu, the CSRF token, the language,
    the time zone and the export link."""
    actor = getattr(request.state, "actor", None)
    tz = ZoneInfo(request.app.state.settings.timezone)
    return {
        "actor": actor,
        "menu": menu_for(actor.role) if actor else [],
        "csrf_token": request.session.get("csrf", ""),
        "lang": current_language(),
        "current_path": request.url.path,
        "tz": tz,
        "datetime": lambda value, form="short": formatting.format_datetime(value, tz, form),
        "export_url": lambda table_id=None: export_url(request, table_id),
        "may_export": bool(actor and actor.permissions.may_export),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with the page context plus ``context``."""
    merged = page_context(request)
    if context:
        merged.update(context)
    return templates().TemplateResponse(
        request, template, merged, status_code=status_code, headers=headers
    )

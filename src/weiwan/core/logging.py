"""Structured logging (structlog): key=value on a console, JSON lines in production."""

from __future__ import annotations

import logging
import sys

import structlog

from weiwan.core.settings import Settings


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    # Looked up at each use: test runners and CLI runners swap sys.stderr.
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog records through one renderer on stderr."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A structured logger tagged with the module name."""
    # Stays a lazy proxy (no .bind() here) so configure_logging applies to module-level loggers.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(module=name)
    return logger

"""The names of the customer view's tags, published beside it by the daily pipeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weiwan.core.ttl_cache import TTLCache
from weiwan.ops.org.models import ConfigDocument
from weiwan.ops.org.published import read_entries

#: the config document holding {tag id: [name_zh, name_en]}
TAG_LABELS_DOCUMENT = "labels:tags"
#: the config document holding the tag library in effect, one mapping per tag: id, names,
#: category, expression (flags), band (true for band tags), edited (from the tag editor)
TAG_LIBRARY_DOCUMENT = "library:tags"
#: seconds a process keeps the names before reading them again (they change once a day)
CACHE_SECONDS = 60.0

#: database URL → names
_cache: TTLCache[str, dict[str, tuple[str, str]]] = TTLCache(CACHE_SECONDS)


def tag_labels(session: Session) -> dict[str, tuple[str, str]]:
    """{tag id: (zh, en)} as last published; cached per process and database for
    :data:`CACHE_SECONDS` (the screen-pop should not read it on every call)."""
    return _cache.get_or_compute(str(session.get_bind().engine.url), lambda: _read(session))


def _read(session: Session) -> dict[str, tuple[str, str]]:
    content = session.scalar(
        select(ConfigDocument.content).where(ConfigDocument.name == TAG_LABELS_DOCUMENT)
    )
    labels: dict[str, tuple[str, str]] = {}
    try:
        raw = json.loads(content) if content else {}
    except ValueError:
        raw = {}
    if isinstance(raw, dict):
        for tag_id, names in raw.items():
            if isinstance(names, list) and len(names) == 2:
                labels[str(tag_id)] = (str(names[0]), str(names[1]))
    return labels


def forget_tag_labels() -> None:
    """Drop the cached names (after a publish in this process)."""
    _cache.clear()


def tag_names(session: Session, tag_ids: Sequence[str], language: str) -> list[str]:
    """The names of ``tag_ids`` in ``language`` (``zh…`` or English); an unknown id stays."""
    labels = tag_labels(session)
    index = 0 if language.startswith("zh") else 1
    return [labels[t][index] if t in labels else t for t in tag_ids]


def tag_library(session: Session) -> list[dict[str, Any]]:
    """The tag library the last run used (:data:`TAG_LIBRARY_DOCUMENT`): one mapping a tag."""
    return read_entries(session, TAG_LIBRARY_DOCUMENT)

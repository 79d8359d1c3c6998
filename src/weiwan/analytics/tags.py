"""Tag library (标签库): the 360° customer profile as analyst-edited YAML over the features.

A tag is either a flag (``expression``: a condition in :mod:`weiwan.analytics.expressions`)
or a band (``band``: one numeric feature cut into half-open ranges ``[min, max)``; the tag's
value is the band id). Files hold many tags under ``tags:``; a broken file or tag becomes a
:class:`TagError` naming file, tag and problem, and every other tag still loads and computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import yaml
from pydantic import ValidationError

from weiwan.analytics.expressions import (
    ExpressionError,
    compile_expression,
    compile_flag,
)
from weiwan.core.tag_rules import KEY_COLUMNS, TagDefinition
from weiwan.core.yaml_safe import load_yaml

DEFAULT_LIBRARY = Path(__file__).parent / "tag_library"


@dataclass(frozen=True)
class TagError:
    """A problem with one tag (or a whole file when ``tag_id`` is None)."""

    file: str
    tag_id: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}, tag {self.tag_id!r}" if self.tag_id else self.file
        return f"{where}: {self.problem}"


@dataclass
class TagLibrary:
    """The tags that loaded, the file each came from, and the problems found while loading."""

    tags: list[TagDefinition] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    errors: list[TagError] = field(default_factory=list)

    def catalog(self) -> list[dict[str, Any]]:
        """One plain dict per tag, for the UI and the docs."""
        return [
            {
                "id": t.id,
                "name_zh": t.name_zh,
                "name_en": t.name_en,
                "category": t.category,
                "kind": t.kind,
                "version": t.version,
                "description": t.description,
                "expression": t.expression,
                "feature": t.band.feature if t.band else None,
                "bands": [b.model_dump() for b in t.band.bands] if t.band else [],
                "band_ids": [b.id for b in t.band.bands] if t.band else [],
                "file": self.files[t.id].name,
            }
            for t in self.tags
        ]


@dataclass
class TagResult:
    """Tags per subscriber (key columns + one column per tag) and the tags that failed."""

    table: ir.Table
    errors: list[TagError]


def load_tag_library(paths: Sequence[Path] | None = None, edited: Path | None = None) -> TagLibrary:
    """Load every ``*.yaml`` in ``paths`` (files or directories; None = the shipped library),
    then the ``edited`` file of the tag editor: its tags replace those of the same id and
    add the others (an edited tag is not a duplicate of the one it changes)."""
    files: list[Path] = []
    for path in [DEFAULT_LIBRARY] if paths is None else [Path(p) for p in paths]:
        files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
    library = TagLibrary()
    for file in files:
        _load_file(file, library)
    if edited is not None:
        changes = TagLibrary()
        _load_file(edited, changes)
        library.errors += changes.errors
        at = {tag.id: i for i, tag in enumerate(library.tags)}
        for tag in changes.tags:
            if tag.id in at:
                library.tags[at[tag.id]] = tag
            else:
                library.tags.append(tag)
            library.files[tag.id] = edited
    return library


def _load_file(file: Path, library: TagLibrary) -> None:
    try:
        raw = load_yaml(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        library.errors.append(TagError(str(file), None, f"cannot read tag file: {exc}"))
        return
    entries = raw.get("tags") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or set(raw) - {"tags", "description"}:
        problem = "expected a mapping with a 'tags:' list (and optionally 'description:')"
        library.errors.append(TagError(str(file), None, problem))
        return
    for number, entry in enumerate(entries, start=1):
        tag_id = entry.get("id") if isinstance(entry, dict) else None
        tag_id = tag_id if isinstance(tag_id, str) else None
        try:
            tag = TagDefinition.model_validate(entry)
        except ValidationError as exc:
            problem = "; ".join(_describe(err) for err in exc.errors())
            entry_name = "" if tag_id else f"entry #{number}: "
            library.errors.append(TagError(str(file), tag_id, entry_name + problem))
            continue
        if tag.id in library.files:
            problem = f"duplicate id, already defined in {library.files[tag.id]}"
            library.errors.append(TagError(str(file), tag.id, problem))
            continue
        library.tags.append(tag)
        library.files[tag.id] = file


def _describe(err: Any) -> str:
    where = ".".join(str(part) for part in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"field {where}: {message}" if where else message


def compute_tags(features: ir.Table, library: TagLibrary) -> TagResult:
    """One row per subscriber: flags (boolean, never NULL) and bands (band id or NULL)."""
    columns: dict[str, ir.Value] = {}
    errors: list[TagError] = []
    for tag in library.tags:
        if tag.id in features.columns:  # the profile joins tags beside features: keep names unique
            problem = f"tag id {tag.id!r} is also a feature column; choose another id"
            errors.append(TagError(str(library.files[tag.id]), tag.id, problem))
            continue
        try:
            columns[tag.id] = _compile(tag, features)
        except ExpressionError as exc:
            errors.append(TagError(str(library.files[tag.id]), tag.id, str(exc)))
    table = features.select(*KEY_COLUMNS, **columns)
    return TagResult(table=table, errors=errors)


def _compile(tag: TagDefinition, features: ir.Table) -> ir.Value:
    if tag.band is None:
        assert tag.expression is not None
        return compile_flag(tag.expression, features).name(tag.id)
    name = tag.band.feature
    value = compile_expression(name, features)  # a column name; unknown names get a hint
    if not value.type().is_numeric():
        raise ExpressionError(f"band feature {name!r} is {value.type()}, bands need numbers")
    cases = []
    for band in tag.band.bands:
        inside = [value >= band.min] if band.min is not None else []
        inside += [value < band.max] if band.max is not None else []
        cases.append((ibis.and_(*inside) if inside else value.notnull(), band.id))
    result: ir.Value = ibis.cases(*cases, else_=ibis.null("string"))
    return result.name(tag.id)

"""The one YAML loader refuses anchors and aliases; error texts are capped; filters and tag
expressions are refused past the nesting limit before anything recurses over them."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from input_fixtures import LAUGHS, LEAF, nested_not
from weiwan.analytics.alerts import load_rules
from weiwan.analytics.config_files import read_yaml
from weiwan.analytics.expressions import ExpressionError, parse_expression
from weiwan.analytics.mapping import load_mapping
from weiwan.analytics.tags import load_tag_library
from weiwan.cli import app as cli
from weiwan.core.errors import (
    MAX_ERROR_CHARS,
    MAX_NESTING,
    ConfigError,
    InvalidRequestError,
    cap_text,
    join_problems,
)
from weiwan.core.filters import FilterError, TargetFilter
from weiwan.core.yaml_safe import AnchorNotAllowedError, load_yaml
from weiwan.ops.org import config


def test_the_billion_laughs_document_is_short() -> None:
    assert len(LAUGHS) <= 400
    assert yaml.safe_load("a: &x 1\nb: *x\n") == {"a": 1, "b": 1}  # what PyYAML would do


@pytest.fixture(params=[True, False], ids=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each check with PyYAML's libyaml binding and, as where it is missing, without."""
    monkeypatch.setattr(yaml, "__with_libyaml__", request.param)
    return bool(request.param)


def test_both_loaders_read_every_shipped_document_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = sorted(Path(__file__).parents[2].joinpath("src", "weiwan").rglob("*.yaml"))
    assert len(shipped) > 10
    for path in shipped:
        text = path.read_text(encoding="utf-8")
        fast = load_yaml(text)
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
        assert load_yaml(text) == fast, path
        monkeypatch.undo()


def test_a_syntax_error_quotes_the_line_with_either_loader(loader: bool) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as wrong:
        load_yaml("a: 1\nb: [2, 3\nc: 4\n")
    assert wrong.value.problem_mark is not None and wrong.value.problem_mark.line == 2
    assert "    c: 4\n     ^" in str(wrong.value)  # the line itself, marked where it went wrong


@pytest.mark.usefixtures("loader")
def test_plain_documents_load() -> None:
    assert load_yaml("a: [1, 2]\nb: {c: 'd'}\n") == {"a": [1, 2], "b": {"c": "d"}}
    assert load_yaml(b"x: 1") == {"x": 1}
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object:os.system x")  # still only safe types


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: 1\nb: &anchor 2\n", 2, 4),
        ("a: 1\n\nb:\n  - *x\n", 4, 5),
        ("base: {x: 1}\nc:\n  <<: *base\n", 3, 7),
    ],
)
@pytest.mark.usefixtures("loader")
def test_anchors_and_aliases_are_refused_naming_the_line(text: str, line: int, column: int) -> None:
    with pytest.raises(AnchorNotAllowedError) as refused:
        load_yaml(text)
    assert (refused.value.line, refused.value.column) == (line, column)
    assert str(refused.value).startswith(f"line {line}, column {column}: ")
    assert refused.value.problem_mark is not None  # reported like any YAML syntax error
    assert refused.value.problem_mark.line + 1 == line


#: an expanded "billion laughs" takes minutes and gigabytes; a refusal takes milliseconds. The
#: bound only tells the two apart: it is generous so a loaded CI machine never trips it.
NOT_EXPANDED_SECONDS = 10.0


def _refused_quickly(load: Callable[[], Any]) -> str:
    started = time.perf_counter()
    with pytest.raises((ConfigError, InvalidRequestError, yaml.YAMLError)) as refused:
        load()
    assert time.perf_counter() - started < NOT_EXPANDED_SECONDS
    message = str(refused.value)
    assert len(message) < 10_000
    assert "anchors (&) and aliases (*) are not allowed" in message
    return message


def test_billion_laughs_refused_by_every_loader(tmp_path: Path) -> None:
    """Settings documents (all kinds), analysts' files and the CLI refuse it at once."""
    for kind in config.RULE_DOCUMENT_KINDS:
        assert "line 1, column 4" in _refused_quickly(partial(config.check_text, kind, LAUGHS))
    file = tmp_path / "laughs.yaml"
    file.write_text(LAUGHS, "utf-8")
    _refused_quickly(lambda: read_yaml(file, "policies.yaml", "policy file"))
    _refused_quickly(lambda: load_mapping(file))
    tags = load_tag_library([file])
    assert not tags.tags and "anchors (&) and aliases (*) are not allowed" in str(tags.errors[0])
    rules = load_rules([file])
    assert not rules.rules and "anchors (&) and aliases (*) are not allowed" in str(rules.errors)
    started = time.perf_counter()
    result = CliRunner().invoke(
        cli, ["targets", "preview", "--snapshot", "2026-01-31", "--filter", f"@{file}"]
    )
    assert result.exit_code != 0 and time.perf_counter() - started < NOT_EXPANDED_SECONDS
    assert "not allowed" in result.output and len(result.output) < 10_000


def test_error_texts_are_capped() -> None:
    problems = [f"targets[{i}].saves: not a number ≥ 0: 'x'" for i in range(500)]
    text = join_problems(problems)
    assert len(text) <= MAX_ERROR_CHARS + 40
    assert text.startswith(problems[0]) and text.endswith("more problems")
    shown = text.rsplit(" …", 1)[0].count("; ") + 1
    assert text.endswith(f"… and {500 - shown} more problems")
    assert len(cap_text("x" * 100_000)) == MAX_ERROR_CHARS
    assert cap_text("short; text") == "short; text"


def test_filter_nesting_is_capped_before_recursion() -> None:
    assert TargetFilter.parse(nested_not(MAX_NESTING)).root is not None
    for levels in (MAX_NESTING + 1, 300, 5_000):
        with pytest.raises(FilterError) as deep:
            TargetFilter.parse(nested_not(levels))
        assert f"nested more than {MAX_NESTING} levels" in str(deep.value)
        assert deep.value.path == ".".join(["not"] * MAX_NESTING)
    deep_all: dict[str, Any] = dict(LEAF)
    for _ in range(300):
        deep_all = {"all": [LEAF, {"any": [deep_all]}]}
    with pytest.raises(FilterError, match="nested more than"):
        TargetFilter.parse(deep_all)


def test_tag_expression_nesting_is_capped(tmp_path: Path) -> None:
    assert parse_expression("not " * 20 + "arpu_1m > 1")
    for text in ("not " * 495 + "arpu_1m", "-" * 1000 + "arpu_1m > 1"):  # within 2,000 chars
        with pytest.raises(ExpressionError, match=f"nested more than {MAX_NESTING} levels"):
            parse_expression(text)
    file = tmp_path / "deep.yaml"
    entry = {
        "id": "deep",
        "name_zh": "深",
        "name_en": "Deep",
        "category": "risk",
        "version": 1,
        "expression": "not " * 490 + "arpu_1m > 1",
    }
    file.write_text(yaml.safe_dump({"tags": [entry]}), "utf-8")
    library = load_tag_library([file])
    assert not library.tags
    (error,) = library.errors
    assert error.tag_id == "deep" and "expression" in error.problem
    assert f"nested more than {MAX_NESTING} levels" in error.problem

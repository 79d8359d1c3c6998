"""docs/operations.md, the administrator's guide: every `weiwan …` command it shows exists with
the options it gives (checked against the command line itself), and its links lead to a file
and a heading that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
from typer.core import TyperGroup

from weiwan.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = DOCS / "operations.md"
#: `weiwan` as a program (at the start, after a space, a slash, `;` or `(`), then a word
PROGRAM = re.compile(r"(?:^|(?<=[\s/;(]))weiwan(?=[ \t]+[a-z][a-z-]*(?:\s|$))")
#: where one command of a shell line ends
END = re.compile(r";|&&|\|\||>>|\)|\|")
#: a shell comment (or a YAML/ini one) to the end of the line
COMMENT = re.compile(r"(?:^|\s)#")
FENCE = re.compile(r"^[ \t]*```[^\n]*$", re.MULTILINE)
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def _prose_and_code(text: str) -> tuple[str, list[str]]:
    """The text outside fenced blocks, and the code: each line of a fenced block and each
    inline code span (a span broken over lines joined into one)."""
    parts = FENCE.split(text)
    prose = "".join(parts[0::2])
    code = [line for block in parts[1::2] for line in block.splitlines()]
    code += [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return prose, code


def _commands(text: str) -> list[str]:
    """Every `weiwan …` invocation in the code of ``text``, without what follows it on the
    shell line."""
    found = []
    for line in _prose_and_code(text)[1]:
        line = COMMENT.split(line, maxsplit=1)[0]
        for match in PROGRAM.finditer(line):
            rest = line[match.end() :]
            found.append(END.split(rest, maxsplit=1)[0].strip())
    return found


def _root() -> TyperGroup:
    """The command line as Typer builds it (its own copy of click's classes)."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return root


def _problem(invocation: str, root: TyperGroup) -> str | None:
    """What is wrong with ``weiwan <invocation>`` (None: the command and its options exist)."""
    command: Any = root
    words = invocation.split()
    path = []
    while words and isinstance(command, TyperGroup) and words[0] in command.commands:
        path.append(words.pop(0))
        command = command.commands[path[-1]]
    if not path:
        return f"weiwan {invocation}: no such command"
    known = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            known.update(param.opts + param.secondary_opts)
    given = {option for word in words for option in re.findall(r"--[a-z][a-z-]*", word.strip("[]"))}
    unknown = sorted(given - known)
    return f"weiwan {' '.join(path)}: no option {', '.join(unknown)}" if unknown else None


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    prose = _prose_and_code(path.read_text(encoding="utf-8"))[0]
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, flags=re.MULTILINE)}


def test_the_guide_reads_its_commands_from_the_command_line() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    root = _root()
    commands = _commands(text)
    named = {" ".join(c.split()[:1]) for c in commands}
    assert {"daily", "backup", "restore", "serve", "db", "users"} <= named
    problems = [p for c in commands if (p := _problem(c, root)) is not None]
    assert problems == []


def test_the_checker_refuses_a_command_or_option_that_does_not_exist() -> None:
    root = _root()
    text = "`weiwan backup --into DIR`, then `/opt/x/bin/weiwan migrate` and\n`weiwan db\nupgrade`."
    assert [_problem(c, root) for c in _commands(text)] == [
        "weiwan backup: no option --into",
        "weiwan migrate: no such command",
        None,
    ]


def test_the_guide_links_lead_somewhere() -> None:
    prose = _prose_and_code(GUIDE.read_text(encoding="utf-8"))[0]
    broken = []
    for target in LINK.findall(prose):
        if target.startswith(("http://", "https://")):
            continue
        name, _, anchor = target.partition("#")
        path = GUIDE if not name else (GUIDE.parent / name).resolve()
        if not path.exists() or (anchor and anchor not in _anchors(path)):
            broken.append(target)
    assert broken == []
    contents = prose.split("## Contents", 1)[1].split("\n## ", 1)[0]
    assert len(LINK.findall(contents)) >= 9  # install … behind nginx, the API

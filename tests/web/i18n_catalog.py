"""The messages of the pages (Python and templates) and which lack a Chinese text."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from weiwan.web.i18n import catalog_files, read_catalog

WEB = Path(__file__).resolve().parents[2] / "src" / "weiwan" / "web"
METHODS = [("**/static/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def page_messages() -> dict[str, list[str]]:
    """Every message id used by the pages, with where it is used (file:line)."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(WEB), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def missing_chinese() -> dict[str, list[str]]:
    """Message ids without a Chinese text in ``web/i18n/zh_CN/*.po``."""
    catalog = read_catalog("zh-CN")
    return {msgid: where for msgid, where in page_messages().items() if msgid not in catalog}


def conflicting_chinese() -> dict[str, set[str]]:
    """Message ids given different Chinese texts by two catalogues (one would silently win)."""
    texts: dict[str, set[str]] = {}
    for po_file in catalog_files("zh-CN"):
        with po_file.open("rb") as handle:
            for message in read_po(handle):
                if message.id and isinstance(message.id, str) and message.string:
                    texts.setdefault(message.id, set()).add(str(message.string))
    return {msgid: found for msgid, found in texts.items() if len(found) > 1}


if __name__ == "__main__":  # python tests/web/i18n_catalog.py: list what to translate
    for msgid, where in sorted(missing_chinese().items()):
        print(f"{where[0]}\t{msgid}")

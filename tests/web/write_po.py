"""Write a ``web/i18n/zh_CN/<area>.po`` from a Python dict of English → Chinese texts.

    python tests/web/write_po.py AREA FILE.py   # FILE.py defines ZH = {"English": "中文", ...}

Existing entries of the area's file are kept unless FILE.py gives them a new text.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

I18N = Path(__file__).resolve().parents[2] / "src" / "weiwan" / "web" / "i18n" / "zh_CN"


def write_area(area: str, texts: dict[str, str]) -> Path:
    """Merge ``texts`` into the area's catalogue and write it sorted."""
    path = I18N / f"{area}.po"
    catalog = Catalog(locale="zh_CN", project="weiwan", fuzzy=False)
    if path.exists():
        with path.open("rb") as handle:
            for message in read_po(handle, locale="zh_CN"):
                if message.id:
                    catalog.add(message.id, message.string)
    for msgid, text in texts.items():
        catalog.add(msgid, text)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=True, omit_header=True)
    return path


if __name__ == "__main__":
    print(write_area(sys.argv[1], runpy.run_path(sys.argv[2])["ZH"]))

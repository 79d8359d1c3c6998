"""Every page each demo role reaches, read in Chinese: no raw code and no English word.

The walk logs in as each demo role (zh-CN, the default), opens every page of the role's menu and
one page of each kind linked from them (a customer card, a campaign, a report…), and reads the
text a person sees (text nodes, and the ``title``/``placeholder``/``aria-label`` attributes;
not scripts or styles). It fails on a stored code (snake_case or a known code of the
vocabulary, a policy, a rule, a model feature) or an English word that is not one of the few
terms Chinese operators write in Latin letters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from browser.conftest import DemoSite
from weiwan.core.db import engine_for
from weiwan.demo.people import DEMO_PASSWORD
from weiwan.ops.org.models import User
from weiwan.web import labels
from weiwan.web.nav import menu_for

pytestmark = pytest.mark.browser

#: Latin-letter words a Chinese operator's staff read as they are (abbreviations of the trade,
#: file formats, the product's name)
_TERMS = """weiwan ID KPI KPIs ARPU AUC ROC PSI CLV MOU DOU SMS VIP Excel CSV PDF PNG YAML JSON
API UTC GMT Top TOP SLA NPS CSAT LightGBM SHAP Qini AUUC URL CNY HTTP N IMEI ICCID MSISDN AM PM
Etc Spark DuckDB PostgreSQL"""
LATIN_TERMS = frozenset(_TERMS.split())
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "svg", "textarea", "code"})
_READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[-'][A-Za-z]+)*")
#: a content fingerprint (hex digest) is data, not a word
_FINGERPRINT = re.compile(r"(?=[0-9a-f]*\d)[0-9a-f]{8,}")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
#: pages of one kind differ in their numbers: /customers/123 and /customers/456 are one kind
_KIND = re.compile(r"\d+|\d{4}-\d{2}-\d{2}")
_SKIPPED_LINKS = re.compile(
    r"^/(static|logout|lang|api)\b|format=|export|download|\.(png|xlsx|csv)"
)
#: the vocabulary's codes (value tiers, channels, states…): a code shown is a label missing
VOCABULARY = frozenset(
    code
    for table in vars(labels).values()
    if isinstance(table, dict)
    for code in table
    if isinstance(code, str) and len(code) > 2
)


class _VisibleText(HTMLParser):
    """The text a reader sees on an HTML page, and the links on it; skipped: scripts, styles,
    the text being edited in a textarea (a document, e.g. the YAML import/export) and elements
    marked as another language (the language switcher's "English")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skipped: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if self._skipped:
            self._depth += tag == self._skipped
            return
        language = values.get("lang")
        if tag in _SKIPPED_TAGS or (language and not language.startswith("zh")):
            self._skipped, self._depth = tag, 1
            return
        self.parts += [v for name in _READ_ATTRIBUTES if (v := values.get(name))]
        if tag == "a" and (href := values.get("href")):
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if self._skipped == tag:
            self._depth -= 1
            if not self._depth:
                self._skipped = None

    def handle_data(self, data: str) -> None:
        if not self._skipped and data.strip():
            self.parts.append(data.strip())


def read_page(html: str) -> tuple[list[str], list[str]]:
    """(the visible texts, the links) of a page."""
    parser = _VisibleText()
    parser.feed(html)
    return parser.parts, parser.links


def foreign_words(
    text: str, codes: frozenset[str] = VOCABULARY, names: frozenset[str] = frozenset()
) -> list[str]:
    """The raw codes and English words in a Chinese page's ``text``; ``names`` (e.g. the
    users' login names) are data, not words."""
    found = [code for code in _SNAKE.findall(text) if code not in names]
    for word in _WORD.findall(text):
        if word in LATIN_TERMS or word in names or word in found or _FINGERPRINT.fullmatch(word):
            continue
        if word in codes or (len(word) > 1 and not word.isupper()):
            found.append(word)
    return found


def _log_in(site: DemoSite, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site.url, follow_redirects=True, timeout=60)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the login form has no CSRF token"
    data = {"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    response = client.post("/login", data=data)
    assert response.status_code == 200 and "/login" not in str(response.url), username
    return client


def _walk(client: httpx.Client, start: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(path, visible texts) of the start pages, then of one page per kind linked from them."""
    seen_kinds: set[str] = set()
    queue = list(start)
    for index, path in enumerate(queue):
        kind = _KIND.sub("N", urlsplit(path).path)
        if kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        response = client.get(path)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        texts, links = read_page(response.text)
        if response.status_code != 200:
            texts = [f"status_{response.status_code}"]  # a link that does not open is found too
        yield path, texts
        if index < len(start):  # one level below the menu
            queue += [
                link for link in links if link.startswith("/") and not _SKIPPED_LINKS.search(link)
            ]


def test_foreign_words_finds_codes_and_english_but_not_the_trades_terms() -> None:
    assert foreign_words("今日已接触 1/1（cap_day）") == ["cap_day"]
    assert foreign_words("渠道：sms") == ["sms"]
    assert foreign_words("199 targets") == ["targets"]
    assert foreign_words("role analyst may not do this")[:2] == ["role", "analyst"]
    assert foreign_words("ARPU 与 KPI 按周导出 Excel，ROC AUC 0.91") == []


def _login_names(site: DemoSite) -> frozenset[str]:
    engine = engine_for(site.settings)
    try:
        with Session(engine) as session:
            return frozenset(session.scalars(select(User.username)))
    finally:
        engine.dispose()


def test_every_page_a_role_reaches_reads_in_chinese(demo_site: DemoSite) -> None:
    names = _login_names(demo_site)
    problems: dict[str, list[str]] = {}
    for login in demo_site.run.logins:
        client = _log_in(demo_site, login.username)
        menu = [item.path for _, items in menu_for(login.role) for item in items]
        for path, texts in _walk(client, menu):
            words = sorted({w for text in texts for w in foreign_words(text, names=names)})
            if words:
                problems[f"{login.role.value} {path}"] = words
        client.close()
    assert not problems, "\n".join(f"{page}: {words}" for page, words in problems.items())

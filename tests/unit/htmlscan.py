"""Reading rendered pages back in tests: per-day tables, <data> values, URLs."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Scan(HTMLParser):
    """Collects the per-day tables (by kind and name), every <data value>, the rows of
    each class="..." table, and every attribute that could fetch something."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.days: dict[tuple[str, str], list[list[str]]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.values: list[tuple[str, str]] = []  # (value, shown text)
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.titles: list[str] = []
        self._table: tuple[str, str] | None = None
        self._cls: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._data: tuple[str, list[str]] | None = None
        self._title: list[str] | None = None
        self._head = False  # inside <thead>: header rows are not collected

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        for k in ("src", "href", "action", "srcset", "poster", "data", "xlink:href"):
            if k in a:
                self.urls.append(a[k])
        if tag == "table":
            self._cls = a.get("class", "")
            if "days" in self._cls.split():
                self._table = (a["data-kind"], a["data-name"])
                self.days[self._table] = []
            else:
                self.tables.setdefault(self._cls, [])
        elif tag == "thead":
            self._head = True
        elif tag == "tbody":
            self._close_row()
            self._head = False
        elif tag == "tr":
            self._close_row()
            self._row = []
        elif tag in ("td", "th"):
            self._close_cell()
            self._cell = []
        elif tag == "data":
            self._data = (a.get("value", ""), [])
        elif tag == "title":
            self._title = []

    def _close_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None and (not self._head or self._table is not None):
            if self._table is not None:
                self.days[self._table].append(self._row)
            elif self._cls is not None:
                self.tables[self._cls].append(self._row)
        self._row = None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag in ("tbody", "thead"):
            self._close_row()
            self._head = False
        elif tag == "table":
            self._close_row()
            self._table = self._cls = None
        elif tag == "data" and self._data is not None:
            self.values.append((self._data[0], "".join(self._data[1])))
            self._data = None
        elif tag == "title" and self._title is not None:
            self.titles.append("".join(self._title))
            self._title = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._data is not None:
            self._data[1].append(data)
        if self._title is not None:
            self._title.append(data)


def per_day(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """A per-day table (head row of days, then one row per figure) as
    {day: {figure: shown}}."""
    head, *body = rows
    return {day: {r[0]: r[i] for r in body} for i, day in enumerate(head) if i}


def scan(text: str) -> Scan:
    s = Scan()
    s.feed(text)
    s.close()
    return s


EXTERNAL = re.compile(r"(?i)(https?:|ftp:|wss?:|//[a-z0-9.-]+[/:]|url\(|@import)")


def external_references(text: str) -> list[str]:
    """Anything in the page's markup or CSS that could make a browser fetch."""
    return EXTERNAL.findall(text)

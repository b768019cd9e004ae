"""PURE: the one escaping function per output medium (HTML has its own in htmlparts).

Every string that comes from a file, a feed, the command line or the config (ids,
reasons, names, `--by`, notes) passes through the one of its medium before it is
written: `for_terminal` for text and terminal output, `for_markdown` for markdown."""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 (with TAB, LF, CR), DEL, C1 (ESC's 8-bit CSI 0x9b among them), and the Unicode
# controls that reorder or hide what a terminal or a browser shows
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]|*_#~])")
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def for_terminal(text: object) -> str:
    """`text` with every control character (C0 with newlines and tabs, DEL, C1, ESC,
    bidirectional overrides) shown as a visible escape (`\\x1b`): one line, nothing a
    terminal would act on."""
    return _CONTROL.sub(_visible, str(text))


def for_markdown(text: object) -> str:
    """`text` as literal markdown in a table cell or a list item: `\\`, `|`, backticks,
    `[`, `]`, `*`, `_`, `#` and `~` backslash-escaped, `<`, `>` and `&` as entities, line
    breaks and other control characters visible escapes (never a new row)."""
    out = _MARKDOWN_SPECIAL.sub(r"\\\1", for_terminal(text))
    return "".join(_HTML_SPECIAL.get(c, c) for c in out)


def markdown_row(cells: Iterable[object]) -> str:
    """One markdown table row, every cell escaped."""
    return "| " + " | ".join(for_markdown(c) for c in cells) + " |"

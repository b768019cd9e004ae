"""Pure CSV decoding of check history from another monitor.

Columns: target,time,ok required; latency_seconds,status_code,error optional.
Any bad row raises CsvError naming its line; nothing is half-decoded.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Mapping

from slaprobe.core.model import Check
from slaprobe.core.timefmt import parse_instant, plausible

REQUIRED = ("target", "time", "ok")
OPTIONAL = ("latency_seconds", "status_code", "error")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0 (TAB, CR, LF too), DEL, C1
# a quoted error may hold line breaks and tabs, nothing else
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
OK_VALUES = {"1": True, "true": True, "up": True, "0": False, "false": False, "down": False}


class CsvError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_csv(
    lines: Iterable[str], intervals: Mapping[str, float], not_after: float = math.inf,
) -> list[Check]:
    """Decode every row into a Check, with the target's configured interval."""
    return [check for _, check in iter_csv(lines, intervals, not_after)]


def iter_csv(
    lines: Iterable[str], intervals: Mapping[str, float], not_after: float = math.inf,
) -> Iterator[tuple[int, Check]]:
    """Decode rows lazily (a large file never sits in memory) as (line, check); CsvError
    at the first bad row, so a consumer inside one transaction can roll everything back.
    `intervals` gives each target's covering interval."""
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvError(1, "empty file: a header with target,time,ok is required") from None
    except csv.Error as e:
        raise CsvError(1, f"malformed CSV: {e}") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvError(1, f"header lacks required column(s): {', '.join(missing)}")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise CsvError(1, f"unknown column(s): {', '.join(unknown)} (known: "
                          f"{', '.join(REQUIRED + OPTIONAL)})")
    if len(set(header)) != len(header):
        raise CsvError(1, "a column appears twice")
    col = {name: i for i, name in enumerate(header)}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise CsvError(line, f"{len(row)} fields, the header has {len(header)}")
            for name, cell in zip(header, row, strict=True):
                if bad := (_CONTROL_IN_TEXT if name == "error" else _CONTROL).search(cell):
                    raise CsvError(line, f"{name}: control character U+{ord(bad.group()):04X}"
                                   " (NUL, a line break inside a field, ESC ...) is not allowed")
            check = _row(row, col, intervals, line)
            if check.at > not_after:
                raise CsvError(line, f"time {row[col['time']].strip()!r} is in the future")
            yield line, check
    except csv.Error as e:
        raise CsvError(reader.line_num, f"malformed CSV: {e}") from None


def _row(row: list[str], col: Mapping[str, int], intervals: Mapping[str, float],
         line: int) -> Check:
    def get(name: str) -> str:
        return row[col[name]].strip() if name in col else ""

    target = get("target")
    if target not in intervals:
        raise CsvError(line, f"target {target!r} is not in the config")
    try:
        at = plausible(parse_instant(get("time")), repr(get("time")))
    except ValueError as e:
        raise CsvError(line, f"time: {e}") from None
    ok_text = get("ok").lower()
    if ok_text not in OK_VALUES:
        raise CsvError(line, f"ok: {get('ok')!r} is not one of 1 0 true false up down")
    latency: float | None = None
    if text := get("latency_seconds"):
        try:
            latency = float(text)
        except ValueError:
            raise CsvError(line, f"latency_seconds: {text!r} is not a number") from None
        if not math.isfinite(latency) or latency < 0:
            raise CsvError(line, f"latency_seconds: {text!r} must be a number >= 0")
    status: int | None = None
    if text := get("status_code"):
        if not text.isascii() or not text.isdigit() or not 100 <= int(text) <= 599:
            raise CsvError(line, f"status_code: {text!r} is not an HTTP status (100-599)")
        status = int(text)
    return Check(
        target=target, at=at, ok=OK_VALUES[ok_text], interval=intervals[target],
        latency=latency, status=status, error=get("error") or None,
    )

"""The static export's folder swap: a reader sees a whole old or a whole new site, never
a half-written one or none; a folder that holds other files is never replaced."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from slaprobe.web import export


def site(n: int) -> dict[str, bytes]:
    body = (f"<!DOCTYPE html><p>version {n}</p>" + "x" * 200_000 + "</html>").encode()
    return {"index.html": body, "feed.atom": f"<feed>{n}</feed>".encode(),
            f"badge/service/availability/v{n % 2}.svg": b"<svg/>", export.MARKER: b"m"}


def test_reexports_swap_the_whole_folder_at_once(tmp_path: Path) -> None:
    out = tmp_path / "site"
    export.write(out, site(0))
    stop = threading.Event()
    seen: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                text = (out / "index.html").read_text()
            except FileNotFoundError:
                seen.append("missing")
                continue
            seen.append("whole" if text.endswith("</html>") else "half")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 30):
            export.write(out, site(n))
    finally:
        stop.set()
        reader.join()
    assert seen and set(seen) == {"whole"}, set(seen)
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html><p>version 29</p>")
    assert sorted(p.name for p in (out / "badge/service/availability").iterdir()) == ["v1.svg"]
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temporary folder left


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "www"
    out.mkdir()
    (out / "mine.html").write_text("keep me")
    with pytest.raises(export.ExportError, match="no export wrote"):
        export.write(out, site(1))
    assert [p.name for p in out.iterdir()] == ["mine.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["www"]
    file = tmp_path / "afile"
    file.write_text("x")
    with pytest.raises(export.ExportError, match="not a directory"):
        export.write(file, site(1))
    empty = tmp_path / "empty"
    empty.mkdir()
    export.write(empty, site(2))
    assert (empty / "feed.atom").read_bytes() == b"<feed>2</feed>"

#!/usr/bin/env python3
"""Regenerate the README pictures, docs/report.png and docs/status.png.

Runs `slaprobe demo --fast` into a temporary folder (or uses --folder, a finished
demo's folder), then photographs its report.html and status.html with Debian's
headless chromium at a desktop width. Needs the `chromium` package.

    python scripts/screenshots.py [--folder DIR] [--out docs]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]
SHOTS = (("report.html", "report.png", 1200, 1560), ("status.html", "status.png", 1200, 1220))


def demo(tmp: Path) -> Path:
    env = {**os.environ, "TMPDIR": str(tmp)}
    r = subprocess.run([sys.executable, "-m", "slaprobe", "demo", "--fast"], env=env,
                       capture_output=True, text=True, check=True, timeout=300)
    m = re.search(r"The report in every format is in (\S+):", r.stdout)
    if not m:
        raise SystemExit(f"demo did not say where it wrote:\n{r.stdout}\n{r.stderr}")
    return Path(m.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", type=Path, help="a finished demo's folder (default: run one)")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshots: chromium is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slaprobe-shots-") as tmp:
        folder = args.folder or demo(Path(tmp))
        for page, png, width, height in SHOTS:
            target = args.out / png
            with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
                subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}",
                                f"--window-size={width},{height}", f"--screenshot={target}",
                                (folder / page).resolve().as_uri()],
                               capture_output=True, check=True, timeout=120)
            print(f"wrote {target} from {folder / page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

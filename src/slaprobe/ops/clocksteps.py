"""What a wall-clock step does to the record (the clock wrapper, wallclock.py, sees it).

Backwards: records keep the monotonic-derived time (the wrapper holds it) until the
wall clock catches up; nothing is written into the past. Forwards: every target's
timeline gets a check of unknown outcome where the jump began, so the skipped span
is unknown, not up or down time nobody measured. Either way it is counted and logged.
"""

from __future__ import annotations

from typing import Any

from slaprobe.core.model import Check, ErrorKind
from slaprobe.core.spec import Config
from slaprobe.core.walltime import Stamp
from slaprobe.history.recorder import Recorder
from slaprobe.metrics.instruments import Instruments


class ClockStepWatch:
    def __init__(self, recorder: Recorder, instruments: Instruments, log: Any,
                 cfg: Config) -> None:
        self.recorder = recorder
        self.instruments = instruments
        self.log = log
        self.intervals: dict[str, float] = {}  # each target's, from the config in force
        self.reconfigure(cfg)

    def reconfigure(self, cfg: Config) -> None:
        self.intervals = {t.name: t.interval for t in cfg.targets}

    def __call__(self, stamp: Stamp) -> None:
        if stamp.event == "caught_up":
            self.log.info("wall_clock_caught_up", at=stamp.at)
            return
        direction = str(stamp.event)
        self.instruments.clock_steps.labels(direction).inc()
        self.log.error(
            "wall_clock_stepped", direction=direction, seconds=round(stamp.step, 3),
            action="recording the monotonic-derived time until the wall clock catches up"
            if direction == "backward" else "the skipped span is recorded as unknown",
            advice="run NTP (chrony or systemd-timesyncd) so the clock slews, never steps")
        if direction != "forward":
            return
        began = stamp.at - stamp.step
        intervals = self.intervals
        for name, last in list(self.recorder.last.items()):
            interval = intervals.get(name)
            if interval is not None and last.at < began:
                self.recorder.record(
                    Check(target=name, at=began, ok=False, interval=interval,
                          error=str(ErrorKind.CLOCK_STEP), unknown=True),
                    detail=f"wall clock stepped forward {stamp.step:.0f}s")

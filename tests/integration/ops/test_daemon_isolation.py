"""Faulty targets never disturb the schedule of healthy ones (in-process daemon)."""

from __future__ import annotations

from pathlib import Path

from faultserver import FaultServer
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.ops.daemon import Daemon

HEALTHY = 200
FAULTS = {
    "slow": "/slow", "reset": "/reset", "big": "/big", "drip": "/drip", "loop": "/loop",
    "bad": "/status/503",
}
# (target, result) each met at least once before the judging
FAULTS_SEEN = [("slow", "timeout"), ("drip", "timeout"), ("reset", "connect_error"),
               ("loop", "bad_status"), ("bad", "bad_status"), ("refused", "connect_error"),
               ("tls", "tls_error"), ("big", "success")]


async def test_200_healthy_targets_keep_their_schedule_beside_faults(
    tmp_path: Path, fault_server: FaultServer, tls_server: FaultServer, refused_url: str,
) -> None:
    """Every healthy target is checked on schedule and succeeds while faults hang and fail."""
    targets = [{"name": f"h{i:03d}", "url": fault_server.url("/ok")} for i in range(HEALTHY)]
    targets += [{"name": n, "url": fault_server.url(p), "critical": False}
                for n, p in FAULTS.items()]
    targets += [
        {"name": "refused", "url": refused_url, "critical": False},
        {"name": "tls", "url": tls_server.url("/ok"), "critical": False},
    ]
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db"), "max_concurrency": 300},
        "defaults": {"interval": "1s", "timeout": "900ms", "retries": 0},
        "targets": targets,
    }, env={})
    d = await Daemon.open(cfg, env={})

    async def read() -> dict[tuple[str, str], float]:
        scrape = Scrape(await d.rooms.exporter.render())
        return {(dict(k[1])["target"], dict(k[1])["result"]): v
                for k, v in scrape.samples.items() if k[0] == "slaprobe_probes_total"}

    async def read_enough() -> bool:
        return enough(await read())

    def enough(seen: dict[tuple[str, str], float]) -> bool:
        return (min(seen.get((f"h{i:03d}", "success"), 0.0) for i in range(HEALTHY)) >= 3
                and all(seen.get(key, 0.0) >= 1 for key in FAULTS_SEEN))

    await d.start()
    try:
        # bounded, not timed: until every healthy target had three checks and every fault
        # was met at least once (a loaded machine runs late), then judge what happened
        await until(read_enough, timeout=60.0, every=0.5)
        samples = await read()
        lag_count = Scrape(await d.rooms.exporter.render()).value(
            "slaprobe_scheduler_lag_seconds_count")
    finally:
        await d.shutdown()

    def probes(target: str, result: str) -> float:
        return samples.get((target, result), 0.0)

    for i in range(HEALTHY):
        name = f"h{i:03d}"
        assert probes(name, "success") >= 3, name
        assert sum(probes(name, kind) for kind in
                   ("timeout", "connect_error", "bad_status", "tls_error")) == 0, name
    assert probes("slow", "timeout") >= 1
    assert probes("drip", "timeout") >= 1
    assert probes("reset", "connect_error") >= 1
    assert probes("loop", "bad_status") >= 1
    assert probes("bad", "bad_status") >= 1
    assert probes("refused", "connect_error") >= 1
    assert probes("tls", "tls_error") >= 1
    assert probes("big", "success") >= 1
    assert lag_count is not None and lag_count >= HEALTHY * 3

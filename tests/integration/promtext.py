"""Reading /metrics as Prometheus would: prometheus_client's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]


class Scrape:
    """The samples of one exposition, by sample name and labels."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.families = list(text_string_to_metric_families(body.decode()))
        self.samples: dict[Key, float] = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in self.families for s in fam.samples
        }

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.samples.get((name, tuple(sorted((labels or {}).items()))))

    def by(self, name: str, label: str) -> dict[str, float]:
        """One sample name's values keyed by one label."""
        return {dict(k[1])[label]: v for k, v in self.samples.items() if k[0] == name}

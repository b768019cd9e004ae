"""slaprobe: an SLA-grade uptime probe daemon."""

__version__ = "0.1.0"

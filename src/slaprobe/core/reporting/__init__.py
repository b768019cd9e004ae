"""PURE: per-day figures and every rendering (CSV, HTML, /status, text tables),
and the catalogue of metrics."""

"""The daemon's own Prometheus instruments and the lean text-format encoder."""

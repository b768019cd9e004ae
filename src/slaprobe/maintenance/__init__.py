"""Maintenance: where windows come from (probe.toml, the file, feeds) and the
follower that keeps them current."""

"""Probing: the scheduler and the probe plan on it, one target's check and its controls,
the HTTP clients."""

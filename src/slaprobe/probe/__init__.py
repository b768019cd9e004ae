"""Probing: the scheduler, one target's check and its controls, the HTTP clients."""

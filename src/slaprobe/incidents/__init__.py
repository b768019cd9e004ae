"""Incidents: from the stored history, the daemon's live desk and their metrics."""

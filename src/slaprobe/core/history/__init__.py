"""PURE: timelines, the tracker, windows, consensus and imported history."""

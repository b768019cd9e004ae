"""PURE: incidents from timelines and business time on the support calendar."""

"""PURE: maintenance rules and feed parsing."""

"""PURE: hash-chain arithmetic and the SLA terms as history."""

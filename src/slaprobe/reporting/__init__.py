"""The SLA report from the stored history."""

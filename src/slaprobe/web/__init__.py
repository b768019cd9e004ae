"""The HTTP face: /metrics, health, the read-only pages and API, web-config and auth."""

"""The REST API under /api/v1/: the dashboard's selectors and services over HTTP (docs/api.md)."""

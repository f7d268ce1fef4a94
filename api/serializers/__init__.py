"""Serializers for the selectors' results (read-only: they describe the JSON and its schema)."""

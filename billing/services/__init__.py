"""Writes to billing state. Read-only queries live in billing.selectors."""

"""Reads for views, the API and the dashboard: no writes, no provider calls."""

"""API views: each reads its parameters with the selector's own parser, calls the selector or
service the dashboard page calls, and serializes the result."""

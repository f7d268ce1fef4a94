"""Webhook intake: authenticate, store raw, answer fast. Processing happens in the worker."""

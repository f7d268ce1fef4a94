"""Chargebee (API v2, SDK chargebee 3.x): parse webhook events, read the API.

`parse` turns event bodies into `billing.normalized` dataclasses (pure, no I/O); `api` lists and
retrieves resources for the backfill and for event polling.
"""

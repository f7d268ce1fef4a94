"""Braintree: verify and normalise webhooks, look up what subscriptions lack, list for backfills.

Modules: gateway (build the SDK gateway from settings), parse (webhook notifications),
normalize (subscription -> NormalizedSubscription), resolver (currency/customer/plan lookups),
api (backfill reads, typed API errors), errors, money.
"""

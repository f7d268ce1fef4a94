"""Stand-ins for the three outside APIs subsync talks to: Salesforce, Chargebee and Braintree.

Not app code: nothing in ``billing/``, ``crm/`` or ``subsync/`` imports this package, and the
production image does not ship it (``.dockerignore``). The tests, the benchmarks (``bench/``)
and ``make run`` use it, so that the real HTTP clients and SDKs can be exercised without
accounts at those services:

- ``emulator.salesforce``: a local Salesforce org over HTTPS (REST, SOQL, Bulk API 2.0, OAuth)
  that enforces an org's rules; runs on its own as ``python -m emulator.salesforce``, which
  is how ``make run`` starts it when no Salesforce credentials are set.
- ``emulator.chargebee``: Chargebee event and resource bodies, and a fake Chargebee API server.
- ``emulator.braintree``: signed Braintree webhook notifications, and a fake Braintree gateway
  for the SDK to talk to.

Every module here imports neither Django nor the apps nor ``tests`` (a test checks it), so the
stand-ins keep working whatever the app does and can be started in any process.
"""

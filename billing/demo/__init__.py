"""Demo data: a believable two-year billing history, sent through the real event pipeline.

`seed_demo` (billing.demo.seed, the `seed_demo` command) writes nothing itself except what the
product would have looked up from a provider anyway (Braintree's plan list, exchange rates):
it plays a story of customers and subscriptions (billing.demo.story), renders each step as the
provider would send it (billing.demo.chargebee: Chargebee v2 events, billing.demo.braintree:
Braintree webhook notifications), stores each as a WebhookEvent through the intake service and
applies them with the processing service. So the ledger, the churn reasons and the Salesforce
sync state of a demo are exactly what the same deliveries would produce in production.
"""

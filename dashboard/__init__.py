"""The ops dashboard: server-rendered pages over the billing and crm selectors."""

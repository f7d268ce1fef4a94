"""A Chargebee stand-in: event and resource bodies in Chargebee's v2 shapes, and a fake
Chargebee API server."""

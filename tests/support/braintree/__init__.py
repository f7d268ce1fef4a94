"""Test support for the Braintree provider: signed notifications and a fake gateway server."""

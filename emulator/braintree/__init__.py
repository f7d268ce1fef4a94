"""A Braintree stand-in: signed webhook notifications, subscription XML and a fake gateway
server for the SDK to talk to."""

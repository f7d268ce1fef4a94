"""Writes to the Salesforce sync state."""

"""Benchmarks run by hand (not by the test suite): `python bench/webhooks.py --help`."""

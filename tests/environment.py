"""Loaded as a pytest plugin (`-p tests.environment`) before Django is set up.

Tests run with DEBUG off, as in production, so settings need a secret key; this one is only
ever used by the test suite.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else")
# The run's own cache key prefix: tests forget their keys without flushing a Redis database
# shared with the Celery broker or with another run (tests.support.cache).
os.environ.setdefault("CACHE_KEY_PREFIX", f"subsync-test-{os.getpid()}")

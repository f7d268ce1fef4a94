"""A local Salesforce org for tests, the benchmark and ``make run`` without credentials.

It speaks the parts of the Salesforce REST API subsync uses (OAuth token flows, describe,
sObject CRUD and upsert by external id, sObject Collections, SOQL with pagination, Bulk
API 2.0, limits) over HTTPS, and enforces the org rules a real org enforces, so code that
passes here passes against Salesforce. Pure standard library plus trustme and PyJWT; it
must never import Django, so it can run on its own: ``python -m emulator.salesforce``.
"""

from .faults import KINDS as FAULT_KINDS
from .org import Credentials
from .server import EmulatorServer

__all__ = ["FAULT_KINDS", "Credentials", "EmulatorServer"]

"""Salesforce record ids.

A Salesforce id is 15 case-sensitive characters (3-character key prefix naming the
object, 2-character pod, 1 reserved, 9 base-62 digits) or the same 15 followed by a
3-character suffix that encodes where the capital letters are, so that the 18-character
form survives case-insensitive systems (spreadsheets, some databases). The API returns
18-character ids and accepts either form; code that slices or compares ids naively gets
caught here the same way it would against a real org.
"""

from __future__ import annotations

import re

KEY_PREFIXES = {
    "Account": "001",
    "Contract": "800",
    "User": "005",
    "Organization": "00D",
    "Job": "750",
    "QueryLocator": "01g",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Opportunity": "006",
    "OpportunityLineItem": "00k",
    "OpportunityLineItemSchedule": "00o",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_POD = "Em"
_ALNUM = re.compile(r"^[0-9A-Za-z]+$")


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def make_id(prefix: str, number: int) -> str:
    """The 18-character id for the ``number``-th record with key prefix ``prefix``."""
    digits = []
    while True:
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
        if number == 0:
            break
    body = "".join(reversed(digits)).rjust(9, "0")
    if len(body) > 9:
        raise ValueError("id space exhausted")
    id15 = f"{prefix}{_POD}0{body}"
    return id15 + checksum(id15)


def normalize(value: object) -> str | None:
    """The canonical 18-character form of a 15- or 18-character id, or None if malformed.

    An 18-character id is accepted in any letter case: its suffix says which letters
    are capitals, as Salesforce itself does.
    """
    if not isinstance(value, str) or not _ALNUM.match(value):
        return None
    if len(value) == 15:
        return value + checksum(value)
    if len(value) != 18:
        return None
    suffix = value[15:].upper()
    restored = []
    for chunk, suffix_char in enumerate(suffix):
        bits = _SUFFIX_ALPHABET.find(suffix_char)
        if bits < 0:
            return None
        for position, char in enumerate(value[chunk * 5 : chunk * 5 + 5]):
            if bits & (1 << position):
                if not char.isalpha():
                    return None
                restored.append(char.upper())
            else:
                restored.append(char.lower() if char.isalpha() else char)
    id15 = "".join(restored)
    if checksum(id15) != suffix:
        return None
    return id15 + suffix


def has_prefix(record_id: str | None, sobject: str) -> bool:
    """Whether a (normalised) id belongs to ``sobject``, going by its key prefix."""
    return bool(record_id) and record_id[:3] == KEY_PREFIXES.get(sobject)

"""Salesforce ids: the case-safe suffix and acceptance of 15- and 18-character forms."""

from emulator.salesforce import ids


def test_checksum_matches_salesforce_example():
    # The documented conversion: a0D30000001n7Pi -> a0D30000001n7PiEAI
    assert ids.checksum("a0D30000001n7Pi") == "EAI"
    assert ids.normalize("a0D30000001n7Pi") == "a0D30000001n7PiEAI"


def test_made_ids_have_prefix_and_valid_suffix():
    account = ids.make_id("001", 10_000_000_000 + 104_729)
    assert len(account) == 18
    assert account.startswith("001")
    assert ids.checksum(account[:15]) == account[15:]
    assert ids.has_prefix(account, "Account")
    assert not ids.has_prefix(account, "Contract")


def test_eighteen_character_ids_are_case_insensitive():
    record_id = ids.make_id("800", 987_654_321_000)
    assert ids.normalize(record_id.lower()) == record_id
    assert ids.normalize(record_id[:15]) == record_id


def test_malformed_ids_are_rejected():
    assert ids.normalize("001") is None
    assert ids.normalize("001Em0000AulQ3l!QE") is None
    assert ids.normalize(12345) is None
    assert ids.normalize("0" * 16) is None

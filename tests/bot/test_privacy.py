import hashlib

from store import privacy


def test_log_ids_are_keyed_and_stable(monkeypatch):
    monkeypatch.setenv("LOG_HASH_KEY", "clave-a")
    privacy._key.cache_clear()
    first = privacy.log_id("56911112222")
    assert first == privacy.log_id("56911112222") and len(first) == 12
    assert first != hashlib.sha256(b"56911112222").hexdigest()[:12]  # not a plain hash
    monkeypatch.setenv("LOG_HASH_KEY", "clave-b")
    privacy._key.cache_clear()
    assert privacy.log_id("56911112222") != first
    privacy._key.cache_clear()

"""The embedded chain's SQLite key-value store: atomic commits, and a close while other threads
read (a server's requests, indexer and warm-up) that waits for their statement and leaves them
a clear error instead of a crashed process."""

from __future__ import annotations

import threading

import pytest

from gridledger.ledger.kvstore import SQLiteAtomicDB, StoreClosed


def test_writes_are_durable_only_when_committed(tmp_path):
    db = SQLiteAtomicDB(tmp_path / "kv.sqlite")
    db[b"a"] = b"1"
    db.commit()
    db[b"b"] = b"2"
    db.close()  # b was not committed
    again = SQLiteAtomicDB(tmp_path / "kv.sqlite")
    assert again[b"a"] == b"1" and b"b" not in again
    with pytest.raises(KeyError):
        again[b"b"]
    again.close()
    again.close()  # twice is harmless


def test_a_close_while_threads_read_leaves_them_a_clear_error(tmp_path):
    db = SQLiteAtomicDB(tmp_path / "kv.sqlite")
    for i in range(100):
        db[i.to_bytes(4, "big")] = bytes(64)
    db.commit()
    errors: list[BaseException] = []
    reads = [0] * 4
    started = threading.Barrier(5)

    def read(k: int) -> None:
        started.wait()
        try:
            while True:
                assert db[(reads[k] % 100).to_bytes(4, "big")] == bytes(64)
                reads[k] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    started.wait()
    while min(reads) < 50:  # every thread is reading
        pass
    db.close()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert len(errors) == 4 and all(isinstance(e, StoreClosed) for e in errors), errors
    with pytest.raises(StoreClosed):
        db[b"\x00\x00\x00\x01"]
    with pytest.raises(StoreClosed):
        db[b"x"] = b"y"

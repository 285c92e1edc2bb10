"""Threads: searches run while another thread upserts; the GIL is released during work."""

import threading

import numpy as np

import stratavec as sv

from conftest import seeded


def test_searches_while_another_thread_upserts(any_db):
    base = seeded(20_000, 32)
    col = any_db.create_collection("t", dim=32, metric="cosine", index=sv.HNSW(m=8, ef_construction=64))
    col.upsert(np.arange(5_000), base[:5_000])
    errors, counts = [], []

    def writer():
        try:
            for start in range(5_000, 20_000, 2_500):
                col.upsert(np.arange(start, start + 2_500), base[start : start + 2_500])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def reader():
        try:
            for _ in range(30):
                ids, _ = col.search(base[:16], k=5)
                # Every point searched for is present from the start: it finds itself first.
                assert (ids[:, 0] == np.arange(16)).all()
                counts.append(col.count())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert col.count() == 20_000
    assert len(counts) == 60 and all(5_000 <= c <= 20_000 for c in counts)

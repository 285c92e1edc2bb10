"""Snapshots: written, reopened read-only in every tier, same answers; bad files refused."""

import numpy as np
import pytest

import stratavec as sv

from conftest import seeded


def test_round_trip_in_every_tier(tmp_path, db):
    base, queries = seeded(1500, 24), seeded(8, 24, seed=2)
    col = db.create_collection("s", dim=24, metric="cosine")
    col.upsert(np.arange(1500), base, [{"i": int(i)} for i in range(1500)])
    path = tmp_path / "s.svdb"
    col.snapshot(path)
    want_ids, want_scores = col.search(queries, k=10)
    for storage in ["mmap", "memory"]:
        snap = sv.open_snapshot(path, storage=storage)
        assert snap.read_only and snap.count() == 1500 and snap.has_index
        ids, scores = snap.search(queries, k=10)
        assert ids.tolist() == want_ids.tolist()
        np.testing.assert_array_equal(scores, want_scores)
        assert snap.get([7])[0].payload == {"i": 7}
        snap.create_payload_index("i", "integer")
        assert snap.payload_indexes == {"i": "integer"} and snap.count(sv.Field("i") < 10) == 10
        assert snap.drop_payload_index("i") and snap.payload_indexes == {}
        assert snap.count(sv.Field("i") < 10) == 10
        with pytest.raises(sv.ReadOnlyError):
            snap.upsert([1], base[:1])
        with pytest.raises(sv.ReadOnlyError):
            snap.delete([1])
    disk = sv.open_snapshot(path, storage="disk", quantization="int8")
    ids, _ = disk.search(queries, k=10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), want_ids.tolist())]) >= 0.9
    # A snapshot of a snapshot holds the same points.
    disk.snapshot(tmp_path / "again.svdb")
    assert sv.open_snapshot(tmp_path / "again.svdb").count() == 1500


def test_bad_files_are_refused(tmp_path):
    missing = tmp_path / "missing.svdb"
    with pytest.raises(OSError, match="missing.svdb"):
        sv.open_snapshot(missing)
    junk = tmp_path / "junk.svdb"
    junk.write_bytes(b"not a snapshot at all" * 10)
    with pytest.raises(sv.CorruptFileError):
        sv.open_snapshot(junk)
    col = sv.connect().create_collection("t", dim=4)
    col.upsert([1, 2], [[1, 0, 0, 0], [0, 1, 0, 0]])
    good = tmp_path / "good.svdb"
    col.snapshot(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.svdb"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(sv.CorruptFileError):
        sv.open_snapshot(truncated, storage="memory")
    with pytest.raises(ValueError, match="storage|tier"):
        sv.open_snapshot(good, storage="tape")


def test_payload_indexes_travel_with_the_snapshot(tmp_path, db):
    base = seeded(600, 8)
    col = db.create_collection("p", dim=8)
    col.upsert(np.arange(600), base, [{"i": int(i), "tag": f"t{i % 3}"} for i in range(600)])
    col.create_payload_index("tag", "keyword")
    col.create_payload_index("i", "integer")
    path = tmp_path / "p.svdb"
    col.snapshot(path)
    for storage in ["mmap", "memory", "disk"]:
        snap = sv.open_snapshot(path, storage=storage, quantization="int8" if storage == "disk" else None)
        assert snap.payload_indexes == {"tag": "keyword", "i": "integer"}
        assert snap.count(sv.Field("tag") == "t1") == 200 and snap.count(sv.Field("i") < 10) == 10
    # A snapshot of the snapshot keeps them too.
    snap.snapshot(tmp_path / "again.svdb")
    assert sv.open_snapshot(tmp_path / "again.svdb").payload_indexes == {"tag": "keyword", "i": "integer"}


@pytest.mark.parametrize("in_folder", [True, False])
def test_a_snapshot_is_restored_into_a_database(tmp_path, in_folder):
    base, queries = seeded(800, 16), seeded(5, 16, seed=3)
    src = sv.connect().create_collection("src", dim=16)
    src.upsert(np.arange(800), base, [{"i": int(i), "tag": f"t{i % 4}"} for i in range(800)])
    src.create_payload_index("tag", "keyword")
    path = tmp_path / "src.svdb"
    src.snapshot(path)
    want_ids, want_scores = src.search(queries, k=5, exact=True)
    db = sv.connect(tmp_path / "db" if in_folder else None)
    col = db.restore_collection("copy", path)
    assert col.count() == 800 and col.has_index and col.payload_indexes == {"tag": "keyword"}
    ids, scores = col.search(queries, k=5, exact=True)
    assert ids.tolist() == want_ids.tolist()
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6)
    col.upsert([5000], base[:1], [{"tag": "t1"}])
    assert col.count(sv.Field("tag") == "t1") == 201
    with pytest.raises(sv.ConflictError):
        db.restore_collection("copy", path)
    with pytest.raises(OSError, match="missing.svdb"):
        db.restore_collection("other", tmp_path / "missing.svdb")
    if in_folder:
        db.close()
        again = sv.connect(tmp_path / "db").get_collection("copy")
        assert again.count() == 801 and again.payload_indexes == {"tag": "keyword"}
    # The read-only error says how to get a writable copy.
    with pytest.raises(sv.ReadOnlyError, match="restore_collection"):
        sv.open_snapshot(path).delete([1])

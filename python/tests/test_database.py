"""Databases: collections created, listed, reopened, dropped; closed databases refuse work."""

import numpy as np
import pytest

import stratavec as sv

from conftest import seeded


def test_collections_are_listed_reopened_and_dropped(tmp_path):
    path = tmp_path / "db"
    base = seeded(500, 8)
    with sv.connect(path) as db:
        col = db.create_collection("a", dim=8, metric="dot", index=sv.HNSW(m=8))
        col.upsert(np.arange(500), base, [{"n": int(i)} for i in range(500)])
        col.create_payload_index("n", "integer")
        db.create_collection("b", dim=3, index=sv.Flat())
        assert db.list_collections() == ["a", "b"] and "a" in db
        before = col.search(base[:3], k=5)
        with pytest.raises(sv.ConflictError, match="already exists"):
            db.create_collection("a", dim=8)
    with sv.connect(path) as db:
        col = db.get_collection("a")
        assert col.count() == 500 and col.dim == 8 and col.metric == "dot"
        after = col.search(base[:3], k=5)
        assert after[0].tolist() == before[0].tolist()
        assert col.count(sv.Field("n") < 100) == 100
        assert col.payload_indexes == {"n": "integer"}
        db.drop_collection("b")
        assert db.list_collections() == ["a"]
        with pytest.raises(KeyError):
            db.get_collection("b")
        with pytest.raises(sv.NotFoundError):
            db.drop_collection("b")


def test_in_memory_database(db):
    col = db.create_collection("m", dim=2, metric="euclid")
    col.upsert([1], [[0.5, 0.5]])
    assert db.get_collection("m").count() == 1
    assert db.list_collections() == ["m"] and db.path is None
    db.drop_collection("m")
    with pytest.raises(sv.ClosedError):
        col.count()
    with pytest.raises(KeyError):
        db.get_collection("m")


def test_closed_database_refuses_work(tmp_path):
    db = sv.connect(tmp_path / "db")
    col = db.create_collection("c", dim=2)
    db.close()
    with pytest.raises(sv.ClosedError, match="closed"):
        db.list_collections()
    with pytest.raises(sv.ClosedError):
        col.upsert([1], [[1, 0]])
    assert col.closed and "closed" in repr(col) and "closed" in repr(db)
    # The folder's lock was released: another handle can write.
    with sv.connect(tmp_path / "db") as again:
        again.get_collection("c").upsert([1], [[1, 0]])


def test_bad_names_and_settings(db):
    with pytest.raises(ValueError, match="name"):
        db.create_collection("../escape", dim=4)
    with pytest.raises(ValueError, match="metric"):
        db.create_collection("x", dim=4, metric="hamming")
    with pytest.raises(ValueError, match="dim|dimension"):
        db.create_collection("x", dim=0)
    with pytest.raises(ValueError, match="index"):
        db.create_collection("x", dim=4, index="hnsw")
    with pytest.raises(ValueError, match="vector type"):
        db.create_collection("x", dim=4, vector_type="int8")


def test_reprs(tmp_path):
    with sv.connect(tmp_path / "db") as db:
        col = db.create_collection("docs", dim=4, quantization="int8")
        col.upsert([1, 2], [[1, 0, 0, 0], [0, 1, 0, 0]], [{"t": "<b>"}, None])
        assert repr(col) == (
            "Collection('docs', dim=4, metric='cosine', points=2, index=HNSW, storage='mmap', quantization='int8')"
        )
        assert "docs" in repr(db) and "<table>" in db._repr_html_()
        assert "<table>" in col._repr_html_()
        hits = col.search([1, 0, 0, 0], k=2)
        assert repr(hits).startswith("Hits(2 hits)") and "Hit(id=1" in repr(hits)
        assert "&lt;b&gt;" in hits._repr_html_()


def test_index_set_later_in_a_folder(tmp_path):
    with sv.connect(tmp_path / "db") as db:
        col = db.create_collection("late", dim=4, metric="euclid", index=sv.Flat())
        col.upsert(np.arange(300), seeded(300, 4))
        assert not col.has_index
        col.set_index(sv.HNSW(m=8))
        assert col.has_index and col.count() == 300
    with sv.connect(tmp_path / "db") as db:
        col = db.get_collection("late")
        assert col.has_index
        col.set_index(sv.Flat())
        assert not col.has_index
        q = seeded(1, 4, seed=5)[0]
        assert col.search(q, k=10).ids == col.search(q, k=10, exact=True).ids
    with sv.connect(tmp_path / "db") as db:
        assert not db.get_collection("late").has_index


def test_compact_reclaims_the_space_of_deleted_points(tmp_path):
    def folder_bytes():
        return sum(f.stat().st_size for f in (tmp_path / "db").rglob("*") if f.is_file())

    with sv.connect(tmp_path / "db") as db:
        col = db.create_collection("c", dim=64, metric="euclid")
        col.upsert(np.arange(4000), seeded(4000, 64), [{"n": i} for i in range(4000)])
        col.compact()
        full = folder_bytes()
        col.create_payload_index("n", "integer")
        assert col.delete(filter=sv.Field("n") >= 1000) == 3000
        col.compact()
        assert col.count() == 1000 and folder_bytes() < full / 2
        assert col.drop_payload_index("n") and col.payload_indexes == {}
    with sv.connect(tmp_path / "db") as db:
        col = db.get_collection("c")
        assert col.count() == 1000 and col.count(sv.Field("n") >= 1000) == 0
        assert col.payload_indexes == {}


def test_durability_options(tmp_path):
    with sv.connect(tmp_path / "db", sync=0.05, checkpoint_bytes=4096) as db:
        col = db.create_collection("d", dim=4, index=sv.Flat())
        for i in range(20):
            col.upsert([i], [[1, i, 0, 0]])
    with sv.connect(tmp_path / "db", sync="always") as db:
        assert db.get_collection("d").count() == 20
    for bad in ["sometimes", -1.0, float("nan")]:
        with pytest.raises(ValueError, match="sync"):
            sv.connect(tmp_path / "db", sync=bad)
    with pytest.raises(ValueError, match="folder"):
        sv.connect(sync="always")

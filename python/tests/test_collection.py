"""Collections: writes, reads and searches through Python, against brute force."""

import uuid

import numpy as np
import pytest

import stratavec as sv

from conftest import exact_cosine, seeded


def test_upsert_search_against_brute_force(any_db):
    base, queries = seeded(2000, 32), seeded(20, 32, seed=8)
    col = any_db.create_collection("docs", dim=32, metric="cosine")
    col.upsert(np.arange(2000), base, [{"i": i, "odd": i % 2 == 1} for i in range(2000)])
    assert len(col) == 2000 and col.count() == 2000
    truth, scores = exact_cosine(base, queries, 10)
    ids, got_scores = col.search(queries, k=10, ef=128)
    assert ids.shape == (20, 10) and ids.dtype == np.uint64 and got_scores.dtype == np.float32
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist())])
    assert recall >= 0.95
    exact_ids, exact_scores = col.search(queries, k=10, exact=True)
    assert exact_ids.tolist() == truth.tolist()
    np.testing.assert_allclose(exact_scores, np.take_along_axis(scores, truth, 1), rtol=1e-5, atol=1e-6)

    hits = col.search(queries[0], k=5, with_vector=True)
    assert len(hits) == 5 and [h.id for h in hits] == exact_ids[0, :5].tolist()
    assert hits[0].payload == {"i": hits[0].id, "odd": hits[0].id % 2 == 1}
    assert hits[0].vector.shape == (32,) and hits[-1].score <= hits[0].score
    np.testing.assert_allclose(np.linalg.norm(hits[0].vector), 1.0, rtol=1e-5)


def test_filtered_search_returns_only_matching_points(any_db):
    base = seeded(1000, 16)
    col = any_db.create_collection("f", dim=16, metric="euclid")
    col.upsert(list(range(1000)), base, [{"tag": "a" if i % 10 == 0 else "b", "n": i} for i in range(1000)])
    col.create_payload_index("tag", "keyword")
    assert col.payload_indexes == {"tag": "keyword"}
    with pytest.raises(ValueError, match="payload index type"):
        col.create_payload_index("tag", "fulltext")
    q = seeded(1, 16, seed=3)[0]
    hits = col.search(q, k=10, filter={"must": [{"key": "tag", "match": {"value": "a"}}]})
    assert len(hits) == 10 and all(h.payload["tag"] == "a" for h in hits)
    d = np.linalg.norm(base[::10] - q, axis=1)
    assert [h.id for h in hits] == (np.argsort(d)[:10] * 10).tolist()
    # Dropped, the index is gone and the filter reads the payloads, with the same answer.
    assert col.drop_payload_index("tag") and not col.drop_payload_index("tag")
    assert col.payload_indexes == {}
    again = col.search(q, k=10, filter={"must": [{"key": "tag", "match": {"value": "a"}}]})
    assert [h.id for h in again] == [h.id for h in hits]
    built = col.search(q, k=10, filter=(sv.Field("tag") == "a") & (sv.Field("n") < 500))
    assert all(h.id < 500 and h.id % 10 == 0 for h in built)
    assert col.count(sv.Field("tag") == "a") == 100
    assert col.count(~(sv.Field("tag") == "a")) == 900


def test_ids_as_uuid_strings_and_numpy_integers(db):
    col = db.create_collection("u", dim=4, metric="dot", index=sv.Flat())
    a, b = str(uuid.uuid4()), uuid.uuid4()
    col.upsert([a, b, np.uint64(7)], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    assert {r.id for r in col.get([a, str(b), 7])} == {a, str(b), 7}
    ids, scores = col.search(np.eye(4, dtype=np.float32)[:2], k=3)
    assert ids.dtype == object and ids[0, 0] == a and ids[1, 0] == str(b)
    assert col.delete([a]) == 1 and col.count() == 2


def test_vectors_from_every_input_kind(db):
    col = db.create_collection("v", dim=3, metric="euclid", index=sv.Flat())
    rows = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]], dtype=np.float64)
    col.upsert([0], rows[:1].astype(np.float16))
    col.upsert([1], rows[1:2].tolist())
    col.upsert([2], rows[2:3])  # float64, converted
    strided = np.asfortranarray(np.vstack([rows, rows]))[::2]  # non-contiguous view
    col.upsert([3, 4, 5, 6], strided.astype(np.float32))
    got = {r.id: r.vector.tolist() for r in col.get(list(range(7)), with_vector=True)}
    assert got[0] == [1, 2, 3] and got[1] == [4, 5, 6] and got[2] == [7, 8, 9]
    assert got[3] == rows[0].tolist() and got[6] == rows[2].tolist()
    col.upsert([9], memoryview(np.ones((1, 3), dtype=np.float32)))
    assert col.get([9], with_vector=True)[0].vector.tolist() == [1, 1, 1]


def test_get_scroll_count_delete_and_payload_ops(any_db):
    col = any_db.create_collection("p", dim=2, metric="euclid")
    col.upsert(list(range(10)), [[i, i] for i in range(10)], [{"n": i, "keep": True} for i in range(10)])
    assert [r.id for r in col.get([3, 99, 1])] == [3, 1]
    page, nxt = col.scroll(limit=4)
    assert [r.id for r in page] == [0, 1, 2, 3] and nxt == 4
    page, nxt = col.scroll(limit=100, offset=nxt, filter=sv.Field("n") >= 6)
    assert [r.id for r in page] == [6, 7, 8, 9] and nxt is None
    col.set_payload([1, 2], {"extra": "x"})
    assert col.get([1])[0].payload == {"n": 1, "keep": True, "extra": "x"}
    col.overwrite_payload([2], {"only": 1})
    assert col.get([2])[0].payload == {"only": 1}
    col.delete_payload([1], ["keep"])
    assert col.get([1])[0].payload == {"n": 1, "extra": "x"}
    assert col.delete(filter=sv.Field("n").between(7, 9)) == 3
    assert col.delete([0, 0, 42]) == 1
    assert col.count() == 6
    col.optimize()
    assert sorted(r.id for r in col.scroll(limit=100)[0]) == [1, 2, 3, 4, 5, 6]


def test_bad_input_names_the_problem(db):
    col = db.create_collection("bad", dim=4, metric="cosine")
    with pytest.raises(sv.DimensionMismatchError, match="expects 4 components, got 3"):
        col.upsert([1], [[1, 2, 3]])
    with pytest.raises(ValueError, match="NaN|finite"):
        col.upsert([1], [[1, float("nan"), 0, 0]])
    with pytest.raises(sv.InvalidVectorError):
        col.upsert([1], [[0, 0, 0, 0]])  # zero vector under cosine
    with pytest.raises(ValueError, match="dtype"):
        col.upsert([1], np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        col.upsert([1, 2], [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="negative"):
        col.upsert(np.array([-1]), [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="UUID"):
        col.upsert(["not-a-uuid"], [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="sequence"):
        col.get(5)
    with pytest.raises(ValueError, match="payload"):
        col.upsert([1], [[1, 2, 3, 4]], [{"x": object()}])
    with pytest.raises(ValueError, match="finite"):
        col.upsert([1], [[1, 2, 3, 4]], [{"x": float("inf")}])
    with pytest.raises(sv.InvalidFilterError, match="must"):
        col.search([1, 2, 3, 4], filter={"must": "x"})
    with pytest.raises(ValueError, match="k must be at least 1"):
        col.search([1, 2, 3, 4], k=0)
    with pytest.raises(ValueError, match="not both"):
        col.delete([1], filter=sv.Field("a") == 1)
    with pytest.raises(ValueError, match="empty|dimension|components"):
        col.search(np.zeros((0,), dtype=np.float32))
    assert col.count() == 0  # nothing rejected was written
    ids, scores = col.search(np.zeros((0, 4), dtype=np.float32), k=3)
    assert ids.shape == (0, 3) and scores.shape == (0, 3)


def test_a_rejected_batch_writes_nothing(db):
    col = db.create_collection("atomic", dim=2, metric="euclid")
    rows = np.ones((40_000, 2), dtype=np.float32)
    rows[-1, 0] = np.nan
    with pytest.raises(sv.InvalidVectorError, match="vector 39999"):
        col.upsert(np.arange(40_000), rows)
    assert col.count() == 0


def test_quantization_and_index_options(tmp_path):
    base, queries = seeded(3000, 48), seeded(100, 48, seed=9)
    truth, _ = exact_cosine(base, queries, 10)
    # Isotropic random data in 48 dimensions is the hard case for 1-bit codes: binary's walk
    # finds about 0.81 of the top 10 here (200 queries), int8's about 0.98.
    floor = {"int8": 0.95, "binary": 0.75}
    with sv.connect(tmp_path / "db") as db:
        for q in ["int8", "binary", {"type": "int8", "oversampling": 4}]:
            name = f"q{len(db.list_collections())}"
            col = db.create_collection(
                name, dim=48, quantization=q, storage="disk", index=sv.HNSW(m=12, ef_construction=100)
            )
            col.upsert(np.arange(3000), base)
            col.optimize()
            assert col.storage == "disk" and col.quantization["type"] in ("int8", "binary")
            ids, _ = col.search(queries, k=10, ef=100)
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist())])
            assert recall >= floor[col.quantization["type"]], (q, recall)
        # A search's own oversampling: every row rescored (30 hits x 100 >= 3000) is exact.
        col = db.create_collection("coarse", dim=48, quantization={"type": "binary", "oversampling": 1})
        col.upsert(np.arange(3000), base)
        col.optimize()
        ids, scores = col.search(queries, k=30, oversampling=100)
        exact_ids, exact_scores = col.search(queries, k=30, exact=True)
        assert ids.tolist() == exact_ids.tolist()
        np.testing.assert_allclose(scores, exact_scores, rtol=1e-5)
        few, _ = col.search(queries, k=30, oversampling=1)
        assert few.tolist() != exact_ids.tolist()  # binary codes rank coarsely
        hits = col.search_mmr(queries[0], k=5, fetch_k=30, lambda_mult=1, oversampling=100)
        assert [h.id for h in hits] == exact_ids[0, :5].tolist()
        # Any breadth is accepted; past the row count it walks them all.
        big, _ = col.search(queries, k=30, ef=2**62, oversampling=100)
        assert big.tolist() == exact_ids.tolist()
        for bad in [0.5, 101, float("nan")]:
            with pytest.raises(ValueError, match="oversampling"):
                col.search(queries[0], oversampling=bad)
        with pytest.raises(ValueError, match="quantization"):
            db.create_collection("nope", dim=4, storage="disk")
        with pytest.raises(ValueError, match="unknown quantization"):
            db.create_collection("nope", dim=4, quantization="int4")
        with pytest.raises(ValueError, match="m"):
            sv.HNSW(m=1)
    assert repr(sv.HNSW(m=8)) == "HNSW(m=8, ef_construction=200)"
    with pytest.raises(ValueError, match="folder"):
        sv.connect().create_collection("m", dim=4, storage="mmap")


def test_mmr_search_picks_diverse_hits(any_db):
    # Near-duplicates around 0 degrees, a few points at 35 and at -35 degrees.
    angles = [0.0, 0.1, 0.2, 0.3, 35.0, 35.5, -35.0]
    vecs = np.array([[np.cos(np.radians(a)), np.sin(np.radians(a))] for a in angles], dtype=np.float32)
    col = any_db.create_collection("mmr", dim=2, metric="cosine")
    col.upsert(list(range(len(angles))), vecs, [{"side": "up" if a >= 0 else "down"} for a in angles])
    q = np.array([1.0, 0.0], dtype=np.float32)
    assert col.search_mmr(q, k=3, lambda_mult=1.0).ids == col.search(q, k=3).ids == [0, 1, 2]
    picked = col.search_mmr(q, k=3, lambda_mult=0.3, with_vector=True)
    # Weighing diversity more than similarity (0.3), each later pick is the point least like
    # the picks so far: 35.5 degrees rather than 35, then -35.
    assert picked.ids == [0, 5, 6]
    assert picked[1].vector is not None and picked[1].payload is not None
    np.testing.assert_allclose(picked.scores, [vecs[i] @ q for i in picked.ids], rtol=1e-5)
    assert col.search_mmr(q, k=3, fetch_k=4, lambda_mult=0.3).ids[:1] == [0]
    assert set(col.search_mmr(q, k=3, fetch_k=4, lambda_mult=0.3).ids) <= {0, 1, 2, 3}
    up = col.search_mmr(q, k=2, lambda_mult=0.3, filter=sv.Field("side") == "up")
    assert up.ids == [0, 5]
    with pytest.raises(ValueError, match="lambda"):
        col.search_mmr(q, lambda_mult=1.5)
    with pytest.raises(ValueError, match="1-D"):
        col.search_mmr(vecs[:2])
    with pytest.raises(sv.DimensionMismatchError):
        col.search_mmr([1.0, 0.0, 0.0])

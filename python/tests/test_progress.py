"""Long upserts: a progress bar through tqdm, and Ctrl-C stops them between chunks."""

import _thread
import sys
import types

import numpy as np
import pytest

import stratavec as sv


class FakeBar:
    """Stands in for tqdm.auto.tqdm: records what the upsert reports."""

    made = []

    def __init__(self, desc, unit, unit_scale, total=None):
        self.total, self.desc, self.n, self.closed = total, desc, 0, False
        self.interrupt_after = FakeBar.interrupt_after
        FakeBar.made.append(self)

    def update(self, n):
        self.n += n
        if self.interrupt_after is not None and self.n >= self.interrupt_after:
            _thread.interrupt_main()  # what Ctrl-C does: the next signal check raises

    def close(self):
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch):
    module = types.ModuleType("tqdm.auto")
    module.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm.auto", module)
    FakeBar.made, FakeBar.interrupt_after = [], None
    return FakeBar


@pytest.mark.parametrize("where", ["memory", "folder"])
def test_progress_bar_counts_every_point(fake_tqdm, tmp_path, where):
    db = sv.connect() if where == "memory" else sv.connect(tmp_path / "db")
    col = db.create_collection("p", dim=4, metric="euclid", index=sv.Flat())
    col.upsert(np.arange(40_000), np.ones((40_000, 4), dtype=np.float32), progress=True)
    (bar,) = fake_tqdm.made
    assert bar.total == 40_000 and bar.n == 40_000 and bar.closed and "p" in bar.desc
    col.upsert(np.arange(10), np.ones((10, 4), dtype=np.float32))  # small: no bar unless asked
    col.upsert(np.arange(10), np.ones((10, 4), dtype=np.float32), progress=False)
    assert len(fake_tqdm.made) == 1
    db.close()


@pytest.mark.parametrize("where", ["memory", "folder"])
def test_interrupt_stops_between_chunks_and_keeps_what_was_written(fake_tqdm, tmp_path, where):
    db = sv.connect() if where == "memory" else sv.connect(tmp_path / "db")
    col = db.create_collection("i", dim=4, metric="euclid", index=sv.Flat())
    fake_tqdm.interrupt_after = 1
    with pytest.raises(KeyboardInterrupt):
        col.upsert(np.arange(100_000), np.ones((100_000, 4), dtype=np.float32), progress=True)
    written = col.count()
    assert 0 < written < 100_000
    assert fake_tqdm.made[0].closed
    assert {r.id for r in col.get(list(range(written)))} == set(range(written))
    db.close()


def test_index_builds_show_progress_and_stop_on_interrupt(fake_tqdm):
    col = sv.connect().create_collection("g", dim=8, metric="euclid", index=sv.Flat())
    rows = np.random.default_rng(3).standard_normal((6_000, 8)).astype(np.float32)
    col.upsert(np.arange(6_000), rows)
    fake_tqdm.interrupt_after = 1
    with pytest.raises(KeyboardInterrupt):
        col.set_index(sv.HNSW(m=8, ef_construction=32), progress=True)
    assert not col.has_index and fake_tqdm.made[0].closed  # the cancelled build left nothing
    fake_tqdm.interrupt_after = None
    col.set_index(sv.HNSW(m=8, ef_construction=32), progress=True)
    assert col.has_index and fake_tqdm.made[1].n == 6_000
    ids, _ = col.search(rows[:20], k=1)
    assert (ids[:, 0] == np.arange(20)).all()
    col.set_index(sv.Flat())
    assert not col.has_index and col.count() == 6_000


def test_durable_checkpoints_show_progress_and_stop_on_interrupt(fake_tqdm, tmp_path):
    with sv.connect(tmp_path / "db") as db:
        col = db.create_collection("c", dim=8, metric="euclid", index=sv.HNSW(m=8, ef_construction=32))
        rows = np.random.default_rng(4).standard_normal((3_000, 8)).astype(np.float32)
        col.upsert(np.arange(3_000), rows, progress=False)
        fake_tqdm.interrupt_after = 1
        with pytest.raises(KeyboardInterrupt):
            col.optimize(progress=True)
        assert col.count() == 3_000 and fake_tqdm.made[0].total is None
        fake_tqdm.interrupt_after = None
        col.optimize(progress=True)
        assert fake_tqdm.made[1].n > 0 and fake_tqdm.made[1].closed
        ids, _ = col.search(rows[:10], k=1)
        assert (ids[:, 0] == np.arange(10)).all()
        fake_tqdm.interrupt_after = 1
        with pytest.raises(KeyboardInterrupt):
            col.set_index(sv.HNSW(m=12), progress=True)
        assert col.has_index

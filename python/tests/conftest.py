"""Shared helpers: seeded data and brute-force answers to check searches against."""

import numpy as np
import pytest

import stratavec as sv


def seeded(n, dim, seed=7):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32)


def exact_cosine(base, queries, k):
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ b.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k], scores


@pytest.fixture
def db():
    d = sv.connect()
    yield d
    d.close()


@pytest.fixture(params=["memory", "folder"])
def any_db(request, tmp_path):
    """Every test using this runs against an in-memory database and a database folder."""
    d = sv.connect() if request.param == "memory" else sv.connect(tmp_path / "db")
    yield d
    d.close()

"""stratavec: one vector engine for notebooks, browsers, Node and servers.

    import stratavec as sv
    db = sv.connect("./my.db")                       # sv.connect() keeps everything in memory
    col = db.create_collection("docs", dim=384, metric="cosine", index=sv.HNSW(m=16))
    col.upsert(ids, vectors, payloads)
    hits = col.search(query, k=10, filter=sv.Field("lang") == "en")
    ids, scores = col.search(queries, k=10)          # a matrix of queries gives arrays
    col.snapshot("docs.svdb"); sv.open_snapshot("docs.svdb")

The engine is the compiled module `stratavec._core`; this package re-exports it and adds the
filter builder (`Field`), which produces the same Qdrant-style dicts `search` accepts.
"""

from ._core import (
    HNSW,
    ClosedError,
    Collection,
    ConflictError,
    CorruptFileError,
    Database,
    DimensionMismatchError,
    Flat,
    Hit,
    Hits,
    IncompatibleVersionError,
    InvalidArgumentError,
    InvalidFilterError,
    InvalidVectorError,
    NotFoundError,
    ReadOnlyError,
    Record,
    StorageError,
    StratavecError,
    __version__,
    connect,
    open_snapshot,
)
from .filters import Condition, Field

__all__ = [
    "HNSW",
    "ClosedError",
    "Collection",
    "Condition",
    "ConflictError",
    "CorruptFileError",
    "Database",
    "DimensionMismatchError",
    "Field",
    "Flat",
    "Hit",
    "Hits",
    "IncompatibleVersionError",
    "InvalidArgumentError",
    "InvalidFilterError",
    "InvalidVectorError",
    "NotFoundError",
    "ReadOnlyError",
    "Record",
    "StorageError",
    "StratavecError",
    "__version__",
    "connect",
    "open_snapshot",
]

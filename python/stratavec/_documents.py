"""What the LangChain and LlamaIndex stores share: text ids mapped to point ids, documents laid
out as payloads, metadata filters in shorthand, and the store's collection made on first use.

A document id is any string. Ids that are already point ids keep their value (decimal digits
that fit in 64 bits become that integer, canonical UUID strings stay as they are); any other
string is mapped to a UUID derived from it (version 5, in a fixed namespace) and is kept in the
payload under the store's id key, so it comes back exactly as given.

A document's payload is its metadata with its text under the store's text key (and the id key
when needed), all at the top level, so filters, payload indexes and `stratavec.Field` name
metadata keys directly. Metadata using one of those two keys is refused.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import stratavec as sv

# The namespace of the UUIDs made from ids that are not point ids (fixed forever: changing it
# would orphan every point stored under such an id).
ID_NAMESPACE = uuid.UUID("5b0e3c4e-8f6a-4d2b-9a51-3c1f7d2e9b60")
_U64_MAX = 2**64 - 1
_FILTER_CLAUSES = frozenset({"must", "should", "must_not", "min_should"})

PointId = Union[int, str]


def point_id(doc_id: str) -> PointId:
    """The point id a document id is stored under."""
    if not isinstance(doc_id, str):
        raise TypeError(f"document ids are strings, got {type(doc_id).__name__}: {doc_id!r}")
    if doc_id.isascii() and doc_id.isdigit() and str(int(doc_id)) == doc_id and int(doc_id) <= _U64_MAX:
        return int(doc_id)
    try:
        if str(uuid.UUID(doc_id)) == doc_id:
            return doc_id
    except ValueError:
        pass
    return str(uuid.uuid5(ID_NAMESPACE, doc_id))


def doc_id(point: PointId, payload: Mapping[str, Any], id_key: str) -> str:
    """The document id of a point: the one kept in its payload, else its point id."""
    kept = payload.get(id_key)
    return kept if isinstance(kept, str) else str(point)


def payload_of(
    text: str, metadata: Optional[Mapping[str, Any]], doc: str, text_key: str, id_key: str
) -> Dict[str, Any]:
    """The payload a document is stored as."""
    payload = dict(metadata or {})
    for key in (text_key, id_key):
        if key in payload:
            raise ValueError(
                f"metadata key {key!r} is where this store keeps the document's "
                f"{'text' if key == text_key else 'id'}; rename it or choose another key when creating the store"
            )
    payload[text_key] = text
    if str(point_id(doc)) != doc:
        payload[id_key] = doc
    return payload


def split_payload(payload: Optional[Mapping[str, Any]], text_key: str, id_key: str) -> Tuple[str, Dict[str, Any]]:
    """(text, metadata) of a stored payload; a point stored without text has the text ''."""
    metadata = dict(payload or {})
    text = metadata.pop(text_key, "")
    metadata.pop(id_key, None)
    return (text if isinstance(text, str) else str(text)), metadata


def metadata_filter(f: Any) -> Any:
    """A filter for `stratavec`: a Qdrant-style dict (with must / should / must_not /
    min_should) or a `stratavec.Field` condition as it is; a shorthand dict of metadata key to
    value (a list: any of its values) as the conjunction of those matches; None as None."""
    if f is None or isinstance(f, sv.Condition):
        return f
    if not isinstance(f, Mapping):
        raise TypeError(
            "a filter is a dict (metadata key -> value, or a Qdrant-style filter with "
            f"must / should / must_not) or a stratavec.Field condition, got {type(f).__name__}"
        )
    if f and set(f) <= _FILTER_CLAUSES:
        return dict(f)
    must = []
    for key, value in f.items():
        if isinstance(value, (list, tuple)):
            must.append({"key": key, "match": {"any": list(value)}})
        else:
            must.append({"key": key, "match": {"value": value}})
    return {"must": must}


def new_ids(ids: Optional[Sequence[Optional[str]]], n: int) -> List[str]:
    """The document ids of `n` documents: those given, random UUIDs where none is."""
    if ids is None:
        return [str(uuid.uuid4()) for _ in range(n)]
    if len(ids) != n:
        raise ValueError(f"got {len(ids)} ids for {n} documents")
    return [str(uuid.uuid4()) if i is None or i == "" else i for i in ids]


class Store:
    """The collection behind a store: given, opened from a database folder or a snapshot, or
    created (in memory or in a folder) with the dimension of the first vectors written."""

    def __init__(
        self,
        *,
        collection: Optional[sv.Collection] = None,
        path: Optional[str] = None,
        collection_name: str = "documents",
        snapshot: Optional[str] = None,
        metric: str = "cosine",
        index: Union[sv.HNSW, sv.Flat, None] = None,
        storage: Optional[str] = None,
        quantization: Optional[str] = None,
    ) -> None:
        given = sum(x is not None for x in (collection, path, snapshot))
        if given > 1:
            raise ValueError("give at most one of collection=, path= and snapshot=")
        self.db: Optional[sv.Database] = None
        self.name = collection_name
        self.create_args: Dict[str, Any] = {"metric": metric, "index": index if index is not None else sv.HNSW()}
        if storage is not None:
            self.create_args["storage"] = storage
        if quantization is not None:
            self.create_args["quantization"] = quantization
        self.collection: Optional[sv.Collection] = collection
        if snapshot is not None:
            kwargs = {k: v for k, v in (("storage", storage), ("quantization", quantization)) if v is not None}
            self.collection = sv.open_snapshot(snapshot, **kwargs)
        elif collection is None:
            self.db = sv.connect(path)
            if collection_name in self.db:
                self.collection = self.db.get_collection(collection_name)

    @property
    def metric(self) -> str:
        """The collection's metric (the one it will be made with, before the first write)."""
        return self.collection.metric if self.collection is not None else str(self.create_args["metric"])

    def writable(self, dim: int) -> sv.Collection:
        """The collection, created with dimension `dim` if there is none yet."""
        if self.collection is None:
            assert self.db is not None
            self.collection = self.db.create_collection(self.name, dim=dim, **self.create_args)
        return self.collection

    def points(self, ids: Iterable[str]) -> List[PointId]:
        return [point_id(i) for i in ids]

"""A LlamaIndex vector store on stratavec: `pip install 'stratavec[llama-index]'`.

    from llama_index.core import StorageContext, VectorStoreIndex
    from stratavec.llama_index import StratavecVectorStore
    store = StratavecVectorStore()                     # in memory; path= for a database folder
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store))

Nodes are stored as points whose payload is what LlamaIndex keeps for a node (its metadata at
the top level, so filters and payload indexes name metadata keys directly, plus the node
itself as JSON and its `ref_doc_id`). Node ids map to point ids as in `stratavec.langchain`.
`MetadataFilters` (every operator but `text_match_insensitive`, nested, with and / or / not)
are translated into the engine's filter; queries run in the default mode or as MMR
(`mmr_threshold` is the weight of similarity against diversity). Similarities are the cosine
or dot similarity, and `1 / (1 + distance)` for euclid and manhattan.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence, Union

try:
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.schema import BaseNode
    from llama_index.core.vector_stores.types import (
        BasePydanticVectorStore,
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
        VectorStoreQueryResult,
    )
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("stratavec.llama_index needs llama-index-core: pip install 'stratavec[llama-index]'") from e

import numpy as np

import stratavec as sv

from . import _documents as docs

__all__ = ["StratavecVectorStore", "to_filter"]

_REF_DOC_ID = "ref_doc_id"


def _condition(f: MetadataFilter) -> Dict[str, Any]:
    """One LlamaIndex condition as a stratavec filter (a dict with must / must_not)."""
    op, key, value = FilterOperator(f.operator), f.key, f.value

    def need_list() -> List[Any]:
        if not isinstance(value, list):
            raise ValueError(f"filter operator {op.value!r} on {key!r} needs a list of values, got {value!r}")
        return value

    def need_scalar() -> Any:
        if isinstance(value, list) or value is None:
            raise ValueError(f"filter operator {op.value!r} on {key!r} needs one value, got {value!r}")
        return value

    if op == FilterOperator.EQ:
        return {"must": [{"key": key, "match": {"value": need_scalar()}}]}
    if op == FilterOperator.NE:
        return {"must_not": [{"key": key, "match": {"value": need_scalar()}}]}
    bounds = {FilterOperator.GT: "gt", FilterOperator.GTE: "gte", FilterOperator.LT: "lt", FilterOperator.LTE: "lte"}
    if op in bounds:
        v = need_scalar()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"filter operator {op.value!r} on {key!r} compares numbers, got {v!r}")
        return {"must": [{"key": key, "range": {bounds[op]: v}}]}
    if op in (FilterOperator.IN, FilterOperator.ANY):
        return {"must": [{"key": key, "match": {"any": need_list()}}]}
    if op == FilterOperator.NIN:
        return {"must_not": [{"key": key, "match": {"any": need_list()}}]}
    if op == FilterOperator.ALL:
        return {"must": [{"key": key, "match": {"value": v}} for v in need_list()]}
    if op == FilterOperator.CONTAINS:
        # A list holding the value (on a plain string this is equality; use text_match there).
        return {"must": [{"key": key, "match": {"value": need_scalar()}}]}
    if op == FilterOperator.TEXT_MATCH:
        v = need_scalar()
        if not isinstance(v, str):
            raise ValueError(f"filter operator 'text_match' on {key!r} needs a string, got {v!r}")
        return {"must": [{"key": key, "match": {"text": v}}]}
    if op == FilterOperator.IS_EMPTY:
        # Missing, null, an empty list or an empty string, as LlamaIndex's own stores read it.
        return {"must": [{"should": [{"is_empty": {"key": key}}, {"key": key, "match": {"value": ""}}]}]}
    raise ValueError(f"stratavec does not support the filter operator {op.value!r} (on {key!r})")


def to_filter(filters: MetadataFilters) -> Dict[str, Any]:
    """LlamaIndex `MetadataFilters` as a stratavec (Qdrant-style) filter."""
    parts: List[Dict[str, Any]] = []
    for f in filters.filters:
        parts.append(to_filter(f) if isinstance(f, MetadataFilters) else _condition(f))
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if condition == FilterCondition.AND:
        return {"must": parts}
    if condition == FilterCondition.OR:
        return {"should": parts} if parts else {}
    return {"must_not": [{"should": parts}]} if parts else {}


class StratavecVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over a stratavec collection.

    With no arguments, an empty store in memory. `path=` opens (or creates) the collection
    `collection_name` in a database folder; `snapshot=` opens a snapshot file read-only;
    `collection=` uses a `stratavec.Collection` you have. A collection made by the store has the
    embeddings' dimension and `metric`, `index` (HNSW by default), `storage` and `quantization`,
    and a keyword index on `ref_doc_id` so deleting a document's nodes is quick.
    """

    stores_text: bool = True
    flat_metadata: bool = False

    _store: docs.Store = PrivateAttr()

    def __init__(
        self,
        *,
        collection: Optional[sv.Collection] = None,
        path: Optional[str] = None,
        collection_name: str = "llama_index",
        snapshot: Optional[str] = None,
        metric: str = "cosine",
        index: Union[sv.HNSW, sv.Flat, None] = None,
        storage: Optional[str] = None,
        quantization: Optional[str] = None,
    ) -> None:
        super().__init__(stores_text=True)
        self._store = docs.Store(
            collection=collection,
            path=path,
            collection_name=collection_name,
            snapshot=snapshot,
            metric=metric,
            index=index,
            storage=storage,
            quantization=quantization,
        )

    @classmethod
    def class_name(cls) -> str:
        return "StratavecVectorStore"

    @property
    def client(self) -> Optional[sv.Collection]:
        """The stratavec collection (None until the first write to a new store)."""
        return self._store.collection

    # -- writes -----------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> List[str]:
        """Upserts nodes with their embeddings (a node id already stored is replaced)."""
        if add_kwargs:
            raise TypeError(f"add got unexpected keyword arguments: {', '.join(sorted(add_kwargs))}")
        if not nodes:
            return []
        vectors = []
        for node in nodes:
            if node.embedding is None:
                raise ValueError(f"node {node.node_id!r} has no embedding; embed nodes before adding them")
            vectors.append(node.embedding)
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError("every node's embedding must have the same length")
        payloads = [node_to_metadata_dict(n, remove_text=False, flat_metadata=self.flat_metadata) for n in nodes]
        created = self._store.collection is None
        col = self._store.writable(matrix.shape[1])
        if created:
            col.create_payload_index(_REF_DOC_ID, "keyword")
        ids = [n.node_id for n in nodes]
        col.upsert(self._store.points(ids), matrix, payloads, progress=False)
        return ids

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> List[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Deletes every node of the document `ref_doc_id`."""
        if delete_kwargs:
            raise TypeError(f"delete got unexpected keyword arguments: {', '.join(sorted(delete_kwargs))}")
        col = self._store.collection
        if col is not None:
            col.delete(filter={"must": [{"key": _REF_DOC_ID, "match": {"value": ref_doc_id}}]})

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    def _selection(self, node_ids: Optional[List[str]], filters: Optional[MetadataFilters]) -> Dict[str, Any]:
        must: List[Dict[str, Any]] = []
        if node_ids is not None:
            must.append({"has_id": self._store.points(node_ids)})
        if filters is not None:
            must.append(to_filter(filters))
        return {"must": must}

    def delete_nodes(
        self,
        node_ids: Optional[List[str]] = None,
        filters: Optional[MetadataFilters] = None,
        **delete_kwargs: Any,
    ) -> None:
        """Deletes the nodes with these ids and/or passing `filters` (both: nodes that are both)."""
        if delete_kwargs:
            raise TypeError(f"delete_nodes got unexpected keyword arguments: {', '.join(sorted(delete_kwargs))}")
        if node_ids is None and filters is None:
            raise ValueError("give node_ids or filters to delete nodes (use clear() to delete every node)")
        col = self._store.collection
        if col is not None:
            col.delete(filter=self._selection(node_ids, filters))

    async def adelete_nodes(
        self,
        node_ids: Optional[List[str]] = None,
        filters: Optional[MetadataFilters] = None,
        **delete_kwargs: Any,
    ) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    def clear(self) -> None:
        """Deletes every node."""
        col = self._store.collection
        if col is not None:
            col.delete(filter={})

    async def aclear(self) -> None:
        await asyncio.to_thread(self.clear)

    # -- reads ------------------------------------------------------------------------------

    def get_nodes(
        self,
        node_ids: Optional[List[str]] = None,
        filters: Optional[MetadataFilters] = None,
    ) -> List[BaseNode]:
        """The nodes with these ids (in the order asked) and/or passing `filters`."""
        col = self._store.collection
        if col is None:
            return []
        if filters is None and node_ids is not None:
            return [metadata_dict_to_node(r.payload or {}) for r in col.get(self._store.points(node_ids))]
        selection = self._selection(node_ids, filters)
        nodes: List[BaseNode] = []
        offset: Any = None
        while True:
            page, offset = col.scroll(filter=selection, limit=1000, offset=offset)
            nodes.extend(metadata_dict_to_node(r.payload or {}) for r in page)
            if offset is None:
                return nodes

    async def aget_nodes(
        self,
        node_ids: Optional[List[str]] = None,
        filters: Optional[MetadataFilters] = None,
    ) -> List[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The `similarity_top_k` nodes closest to `query.query_embedding`, restricted by
        `filters`, `doc_ids` and `node_ids` (when not empty); in MMR mode picked for diversity too
        (`mmr_threshold`, default 0.5, weighs similarity; `mmr_prefetch_k` candidates)."""
        mode = VectorStoreQueryMode(query.mode)
        if mode not in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR):
            raise ValueError(f"stratavec answers queries in the default and mmr modes, not {mode.value!r}")
        if query.query_embedding is None:
            raise ValueError("the query has no embedding (query_embedding is None)")
        prefetch = kwargs.pop("mmr_prefetch_k", None)
        if kwargs:
            raise TypeError(f"query got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        col = self._store.collection
        if col is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        must: List[Dict[str, Any]] = []
        if query.filters is not None:
            must.append(to_filter(query.filters))
        # Empty lists restrict nothing (LlamaIndex's retrievers pass node_ids=[] for "any").
        if query.doc_ids:
            must.append({"key": _REF_DOC_ID, "match": {"any": list(query.doc_ids)}})
        if query.node_ids:
            must.append({"has_id": self._store.points(query.node_ids)})
        selection = {"must": must} if must else None
        vector = np.asarray(query.query_embedding, dtype=np.float32)
        k = query.similarity_top_k
        if mode == VectorStoreQueryMode.MMR:
            lam = 0.5 if query.mmr_threshold is None else query.mmr_threshold
            hits = col.search_mmr(vector, k=k, fetch_k=prefetch, lambda_mult=lam, filter=selection)
        else:
            found = col.search(vector, k=k, filter=selection)
            assert isinstance(found, sv.Hits)
            hits = found
        nodes = [metadata_dict_to_node(h.payload or {}) for h in hits]
        if self._store.metric in ("cosine", "dot"):
            similarities = [float(h.score) for h in hits]
        else:
            similarities = [1.0 / (1.0 + float(h.score)) for h in hits]
        return VectorStoreQueryResult(nodes=nodes, similarities=similarities, ids=[n.node_id for n in nodes])

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)

    def snapshot(self, path: str) -> None:
        """Writes the store's collection as one snapshot file (open it with `snapshot=`)."""
        col = self._store.collection
        if col is None:
            raise ValueError("the store is empty and has no collection to write yet")
        col.snapshot(path)

"""A LangChain vector store (and retriever) on stratavec: `pip install 'stratavec[langchain]'`.

    from stratavec.langchain import StratavecVectorStore
    store = StratavecVectorStore(embedding=embeddings)                  # empty, in memory
    store = StratavecVectorStore(embedding=embeddings, path="./my.db")  # a database folder
    store = StratavecVectorStore(embedding=embeddings, snapshot="docs.svdb")  # read-only
    store.add_texts(["..."], metadatas=[{"lang": "en"}])
    store.similarity_search("query", k=4, filter={"lang": "en"})
    store.as_retriever(search_type="mmr", search_kwargs={"k": 4}).invoke("query")

Documents are stored as points whose payload is the metadata plus the text (under
`text_key`); ids are any strings (see `stratavec._documents` for how they map to point ids).
Filters are a dict of metadata key to value (a list means any of its values), a full
Qdrant-style filter dict (`must` / `should` / `must_not` / `min_should`), or a
`stratavec.Field` condition. Searches, writes and MMR run in the engine with the GIL released;
the async methods run them on a worker thread, so the event loop keeps going.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type, TypeVar, Union

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import VectorStore, VectorStoreRetriever
    from pydantic import model_validator
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("stratavec.langchain needs langchain-core: pip install 'stratavec[langchain]'") from e

import numpy as np

import stratavec as sv

from . import _documents as docs

__all__ = ["StratavecRetriever", "StratavecVectorStore"]

S = TypeVar("S", bound="StratavecVectorStore")


def _relevance(metric: str) -> Callable[[float], float]:
    """Maps the metric's score to a relevance in [0, 1], 1 the most relevant."""
    if metric in ("cosine", "dot"):
        # Cosine similarity in [-1, 1]; for dot, exact when the embeddings are normalised
        # (as most are) and clipped otherwise.
        return lambda s: min(1.0, max(0.0, (1.0 + s) / 2.0))
    # Euclidean and Manhattan distances in [0, inf).
    return lambda d: 1.0 / (1.0 + max(0.0, d))


class StratavecVectorStore(VectorStore):
    """A LangChain `VectorStore` over a stratavec collection.

    `StratavecVectorStore(embedding)` alone is an empty store in memory. `path=` opens (or
    creates) the collection `collection_name` in a database folder; `snapshot=` opens a
    snapshot file read-only (written by `Collection.snapshot` or `StratavecVectorStore.snapshot`
    in any host); `collection=` uses a `stratavec.Collection` you already have. A collection
    made by the store has the embeddings' dimension and `metric`, `index` (HNSW by default),
    `storage` and `quantization`. `text_key` and `id_key` name where the document text and any
    id that is not a point id are kept in the payload.
    """

    def __init__(
        self,
        embedding: Embeddings,
        *,
        collection: Optional[sv.Collection] = None,
        path: Optional[str] = None,
        collection_name: str = "langchain",
        snapshot: Optional[str] = None,
        metric: str = "cosine",
        index: Union[sv.HNSW, sv.Flat, None] = None,
        storage: Optional[str] = None,
        quantization: Optional[str] = None,
        text_key: str = "page_content",
        id_key: str = "doc_id",
    ) -> None:
        self._embedding = embedding
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
        self.text_key = text_key
        self.id_key = id_key

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    @property
    def collection(self) -> Optional[sv.Collection]:
        """The stratavec collection (None until the first write to a new store)."""
        return self._store.collection

    def __repr__(self) -> str:
        return f"StratavecVectorStore({self._store.collection!r})"

    # -- writes -----------------------------------------------------------------------------

    def _write(
        self,
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Optional[Sequence[Optional[Dict[str, Any]]]],
        ids: Optional[Sequence[Optional[str]]],
    ) -> List[str]:
        n = len(texts)
        if metadatas is not None and len(metadatas) != n:
            raise ValueError(f"got {len(metadatas)} metadatas for {n} texts")
        if len(vectors) != n:
            raise ValueError(f"the embeddings gave {len(vectors)} vectors for {n} texts")
        doc_ids = docs.new_ids(ids, n)
        if n == 0:
            return []
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError("the embeddings must give one vector of one length per text")
        payloads = [
            docs.payload_of(t, metadatas[i] if metadatas else None, doc_ids[i], self.text_key, self.id_key)
            for i, t in enumerate(texts)
        ]
        col = self._store.writable(matrix.shape[1])
        col.upsert(self._store.points(doc_ids), matrix, payloads, progress=False)
        return doc_ids

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        ids: Optional[List[str]] = None,
        **kwargs: Any,
    ) -> List[str]:
        """Embeds and upserts `texts` (an existing id is replaced); returns their ids."""
        _no_extra(kwargs, "add_texts")
        texts = list(texts)
        return self._write(texts, self._embedding.embed_documents(texts), metadatas, ids)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        ids: Optional[List[str]] = None,
        **kwargs: Any,
    ) -> List[str]:
        _no_extra(kwargs, "aadd_texts")
        texts = list(texts)
        vectors = await self._embedding.aembed_documents(texts)
        return await asyncio.to_thread(self._write, texts, vectors, metadatas, ids)

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes these documents (ids not stored are skipped), or every document when `ids`
        is None."""
        _no_extra(kwargs, "delete")
        col = self._store.collection
        if col is None:
            return True
        if ids is None:
            col.delete(filter={})
        else:
            col.delete(self._store.points(ids))
        return True

    async def adelete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    # -- reads ------------------------------------------------------------------------------

    def _document(self, point: Any) -> Document:
        text, metadata = docs.split_payload(point.payload, self.text_key, self.id_key)
        return Document(
            page_content=text,
            metadata=metadata,
            id=docs.doc_id(point.id, point.payload or {}, self.id_key),
        )

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        """The documents with these ids, in the order asked; ids not stored are skipped."""
        col = self._store.collection
        if col is None:
            return []
        return [self._document(r) for r in col.get(self._store.points(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        return await asyncio.to_thread(self.get_by_ids, ids)

    def _search(self, vector: Sequence[float], k: int, filter: Any, ef: Optional[int]) -> List[Tuple[Document, float]]:
        col = self._store.collection
        if col is None:
            return []
        query = np.asarray(vector, dtype=np.float32)
        if query.ndim != 1:
            raise ValueError(f"a query embedding is one vector, got an array of shape {query.shape}")
        hits = col.search(query, k=k, filter=docs.metadata_filter(filter), ef=ef)
        assert isinstance(hits, sv.Hits)
        return [(self._document(h), h.score) for h in hits]

    def similarity_search_with_score_by_vector(
        self,
        embedding: List[float],
        k: int = 4,
        filter: Any = None,
        *,
        ef: Optional[int] = None,
        **kwargs: Any,
    ) -> List[Tuple[Document, float]]:
        """The `k` documents closest to `embedding` with the metric's score (similarity for
        cosine and dot, distance for euclid and manhattan)."""
        _no_extra(kwargs, "similarity search")
        return self._search(embedding, k, filter, ef)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> List[Tuple[Document, float]]:
        """The `k` documents closest to `query` with the metric's score (see
        `similarity_search_with_score_by_vector`)."""
        return self.similarity_search_with_score_by_vector(self._embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search_by_vector(
        self, embedding: List[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    def similarity_search(self, query: str, k: int = 4, filter: Any = None, **kwargs: Any) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> List[Tuple[Document, float]]:
        vector = await self._embedding.aembed_query(query)
        return await asyncio.to_thread(self.similarity_search_with_score_by_vector, vector, k, filter, **kwargs)

    async def asimilarity_search_by_vector(
        self, embedding: List[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> List[Document]:
        return await asyncio.to_thread(self.similarity_search_by_vector, embedding, k, filter, **kwargs)

    async def asimilarity_search(self, query: str, k: int = 4, filter: Any = None, **kwargs: Any) -> List[Document]:
        return [d for d, _ in await self.asimilarity_search_with_score(query, k, filter, **kwargs)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return _relevance(self._store.metric)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: List[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        *,
        ef: Optional[int] = None,
        **kwargs: Any,
    ) -> List[Document]:
        """`k` documents picked by maximal marginal relevance (computed in the engine) from
        the `fetch_k` closest to `embedding`: similar to it and unlike each other,
        `lambda_mult` weighing the two (1: similarity alone)."""
        _no_extra(kwargs, "max_marginal_relevance_search")
        col = self._store.collection
        if col is None:
            return []
        hits = col.search_mmr(
            np.asarray(embedding, dtype=np.float32),
            k=k,
            fetch_k=fetch_k,
            lambda_mult=lambda_mult,
            filter=docs.metadata_filter(filter),
            ef=ef,
        )
        return [self._document(h) for h in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> List[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._embedding.embed_query(query), k, fetch_k, lambda_mult, filter, **kwargs
        )

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: List[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> List[Document]:
        return await asyncio.to_thread(
            self.max_marginal_relevance_search_by_vector, embedding, k, fetch_k, lambda_mult, filter, **kwargs
        )

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> List[Document]:
        vector = await self._embedding.aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter, **kwargs)

    # -- construction, files, retrievers ----------------------------------------------------

    @classmethod
    def from_texts(
        cls: Type[S],
        texts: List[str],
        embedding: Embeddings,
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        ids: Optional[List[str]] = None,
        **kwargs: Any,
    ) -> S:
        """A store made with `kwargs` (see the class) holding `texts`."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls: Type[S],
        texts: List[str],
        embedding: Embeddings,
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        ids: Optional[List[str]] = None,
        **kwargs: Any,
    ) -> S:
        store = await asyncio.to_thread(cls, embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def snapshot(self, path: str) -> None:
        """Writes the store's collection as one snapshot file (open it with `snapshot=`)."""
        col = self._store.collection
        if col is None:
            raise ValueError("the store is empty and has no collection to write yet")
        col.snapshot(path)

    def as_retriever(self, **kwargs: Any) -> StratavecRetriever:
        """A retriever over this store: `search_type` "similarity" (default), "mmr" or
        "similarity_score_threshold", `search_kwargs` for the search, or `k` directly."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return StratavecRetriever(vectorstore=self, tags=tags, **kwargs)


class StratavecRetriever(VectorStoreRetriever):
    """A `VectorStoreRetriever` that also takes the number of documents as `k`, in the
    constructor or per call (`retriever.invoke(query, k=3)`)."""

    k: Optional[int] = None

    @model_validator(mode="after")
    def _k_into_search_kwargs(self) -> StratavecRetriever:
        if self.k is not None:
            self.search_kwargs = {**self.search_kwargs, "k": self.k}
        return self


def _no_extra(kwargs: Dict[str, Any], what: str) -> None:
    if kwargs:
        raise TypeError(f"{what} got unexpected keyword arguments: {', '.join(sorted(kwargs))}")

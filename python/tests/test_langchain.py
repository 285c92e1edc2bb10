"""The LangChain store and retriever: LangChain's own standard tests (sync and async) with no
overrides, then what they do not cover: folders, snapshots, filters, MMR, relevance, bad input."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, Generator, List, Type

import numpy as np
import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

import stratavec as sv
from stratavec.langchain import StratavecRetriever, StratavecVectorStore


class TestStandardInMemory(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        yield StratavecVectorStore(embedding=self.get_embeddings())


class TestStandardInAFolder(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Any) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        store = StratavecVectorStore(embedding=self.get_embeddings(), path=str(tmp_path / "db"))
        yield store
        assert store._store.db is not None
        store._store.db.close()


def _retriever_store() -> StratavecVectorStore:
    texts = [f"document number {i} about {topic}" for i, topic in enumerate(["rivers", "birds", "music"] * 4)]
    return StratavecVectorStore.from_texts(texts, DeterministicFakeEmbedding(size=16))


class TestStandardRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> Type[StratavecRetriever]:
        return StratavecRetriever

    @property
    def retriever_constructor_params(self) -> Dict[str, Any]:
        return {"vectorstore": _retriever_store()}

    @property
    def retriever_query_example(self) -> str:
        return "birds"


class Words(Embeddings):
    """A small deterministic embedding where texts sharing words are close: counts of a few
    words, so tests can reason about which documents are near."""

    VOCAB = ["river", "bird", "music", "water", "song", "fly"]

    def embed_documents(self, texts: List[str]) -> List[List[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> List[float]:
        words = text.lower().split()
        v = [float(sum(w.startswith(term) for w in words)) for term in self.VOCAB]
        return [x + 0.01 for x in v]


TEXTS = [
    "river water flows",
    "river water again",
    "river river water",
    "bird song at dawn",
    "bird fly south",
    "music song loud",
]
META: List[Dict[str, Any]] = [
    {"topic": "nature", "n": 0},
    {"topic": "nature", "n": 1},
    {"topic": "nature", "n": 2},
    {"topic": "animals", "n": 3},
    {"topic": "animals", "n": 4},
    {"topic": "art", "n": 5},
]


def test_filters_in_shorthand_full_and_builder_forms():
    store = StratavecVectorStore.from_texts(TEXTS, Words(), META, ids=[str(i) for i in range(6)])
    assert [d.id for d in store.similarity_search("river", k=2)] == ["2", "0"]
    short = store.similarity_search("river", k=3, filter={"topic": "animals"})
    assert {d.metadata["topic"] for d in short} == {"animals"} and len(short) == 2
    any_of = store.similarity_search("song", k=6, filter={"topic": ["animals", "art"]})
    assert sorted(d.id for d in any_of) == ["3", "4", "5"]
    full = {"must": [{"key": "n", "range": {"gte": 4}}], "must_not": [{"key": "topic", "match": {"value": "art"}}]}
    assert [d.id for d in store.similarity_search("river", k=6, filter=full)] == ["4"]
    assert [d.id for d in store.similarity_search("song", k=6, filter=sv.Field("n") == 5)] == ["5"]
    with pytest.raises(TypeError, match="a filter is a dict"):
        store.similarity_search("river", filter=lambda d: True)
    with pytest.raises(sv.InvalidFilterError):
        store.similarity_search("river", filter={"must": [{"key": "n", "range": "big"}]})
    with pytest.raises(TypeError, match="unexpected keyword arguments: fetch_k"):
        store.similarity_search("river", fetch_k=3)


def test_scores_relevance_and_thresholds_follow_the_metric():
    for metric in ["cosine", "dot", "euclid", "manhattan"]:
        store = StratavecVectorStore.from_texts(TEXTS, Words(), META, metric=metric)
        scored = store.similarity_search_with_score("river water", k=6)
        relevance = store.similarity_search_with_relevance_scores("river water", k=6)
        assert [d.page_content for d, _ in scored] == [d.page_content for d, _ in relevance]
        rel = [r for _, r in relevance]
        assert all(0.0 <= r <= 1.0 for r in rel) and rel == sorted(rel, reverse=True), (metric, rel)
        raw = [s for _, s in scored]
        assert raw == (sorted(raw, reverse=True) if metric in ("cosine", "dot") else sorted(raw)), metric
    store = StratavecVectorStore.from_texts(TEXTS, Words(), META)
    q = np.array(Words().embed_query("river water"))
    best = np.array(Words().embed_query(TEXTS[0]))
    cos = float(q @ best / np.linalg.norm(q) / np.linalg.norm(best))
    (_, score), *_ = store.similarity_search_with_score("river water", k=1)
    assert score == pytest.approx(cos, rel=1e-5)
    (_, rel_score), *_ = store.similarity_search_with_relevance_scores("river water", k=1)
    assert rel_score == pytest.approx((1 + cos) / 2, rel=1e-5)
    retriever = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.9, "k": 6}
    )
    kept = retriever.invoke("river water")
    assert kept and all(d.metadata["topic"] == "nature" for d in kept)


def test_mmr_prefers_diverse_documents():
    store = StratavecVectorStore.from_texts(TEXTS, Words(), META, ids=[str(i) for i in range(6)])
    plain = store.similarity_search("river water song", k=3)
    assert {d.metadata["topic"] for d in plain} == {"nature"}
    mmr = store.max_marginal_relevance_search("river water song", k=3, fetch_k=6, lambda_mult=0.3)
    assert len({d.metadata["topic"] for d in mmr}) >= 2 and mmr[0].id == plain[0].id
    vector = Words().embed_query("river water song")
    assert store.max_marginal_relevance_search_by_vector(vector, k=3, fetch_k=6, lambda_mult=0.3) == mmr
    assert (
        store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 6, "lambda_mult": 0.3}).invoke(
            "river water song"
        )
        == mmr
    )
    assert asyncio.run(store.amax_marginal_relevance_search("river water song", k=3, fetch_k=6, lambda_mult=0.3)) == mmr
    filtered = store.max_marginal_relevance_search("river", k=2, filter={"topic": "animals"})
    assert {d.metadata["topic"] for d in filtered} == {"animals"}
    with pytest.raises(ValueError, match="lambda"):
        store.max_marginal_relevance_search("river", lambda_mult=2.0)


def test_ids_of_any_form_round_trip():
    store = StratavecVectorStore(Words())
    odd = [
        "7",
        "007",
        "a b/c",
        "5B0E3C4E-8F6A-4D2B-9A51-3C1F7D2E9B60",
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "18446744073709551616",
    ]
    assert store.add_texts(TEXTS, META, ids=odd) == odd
    assert [d.id for d in store.get_by_ids(odd[::-1])] == odd[::-1]
    # Only ids that are not point ids already are kept in the payload, never in the metadata.
    assert all("doc_id" not in d.metadata for d in store.get_by_ids(odd))
    assert store.collection is not None and store.collection.count() == 6
    assert store.collection.get([7])[0].payload == {"page_content": TEXTS[0], **META[0]}
    store.delete(["a b/c", "7"])
    assert [d.id for d in store.get_by_ids(odd)] == [odd[1], *odd[3:]]
    generated = store.add_documents([Document("river song"), Document("bird", id="mine")])
    assert generated[1] == "mine" and len(generated[0]) == 36
    store.delete()
    assert store.collection.count() == 0 and store.similarity_search("river") == []


def test_bad_input_gets_clear_errors():
    store = StratavecVectorStore(Words())
    with pytest.raises(ValueError, match="'page_content' is where this store keeps the document's text"):
        store.add_texts(["x"], [{"page_content": "clash"}])
    with pytest.raises(ValueError, match="got 2 ids for 1 documents"):
        store.add_texts(["x"], ids=["a", "b"])
    with pytest.raises(ValueError, match="got 1 metadatas for 2 texts"):
        store.add_texts(["x", "y"], [{}])
    with pytest.raises(TypeError, match="document ids are strings"):
        store.add_texts(["x"], ids=[3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.add_texts(["x"], batch_size=3)
    assert store.collection is None, "nothing was written"
    store.add_texts(["river"])
    with pytest.raises(sv.DimensionMismatchError):
        store.similarity_search_by_vector([1.0, 2.0])
    with pytest.raises(sv.InvalidVectorError):
        store.similarity_search_by_vector([float("nan")] * 6)
    with pytest.raises(ValueError, match="at most one of"):
        StratavecVectorStore(Words(), path="x", snapshot="y")
    with pytest.raises(sv.StratavecError):
        StratavecVectorStore(Words(), snapshot="/nonexistent/file.svdb")


def test_a_store_built_in_a_folder_serves_later_from_the_folder_and_a_snapshot(tmp_path):
    store = StratavecVectorStore.from_texts(
        TEXTS, Words(), META, ids=[f"doc-{i}" for i in range(6)], path=str(tmp_path / "db"), collection_name="kb"
    )
    want = store.similarity_search_with_score("bird song", k=3)
    store.snapshot(str(tmp_path / "kb.svdb"))
    assert store._store.db is not None
    store._store.db.close()

    again = StratavecVectorStore(Words(), path=str(tmp_path / "db"), collection_name="kb")
    assert again.similarity_search_with_score("bird song", k=3) == want
    snap = StratavecVectorStore(Words(), snapshot=str(tmp_path / "kb.svdb"))
    assert snap.similarity_search_with_score("bird song", k=3) == want
    assert snap.as_retriever(k=2).invoke("bird song") == [d for d, _ in want[:2]]
    with pytest.raises(sv.ReadOnlyError):
        snap.add_texts(["more"])
    # An existing collection with its own payload layout: name its text key.
    db = sv.connect()
    col = db.create_collection("raw", dim=6, metric="cosine")
    col.upsert(
        [1, 2],
        np.array(Words().embed_documents(["river", "bird"]), dtype=np.float32),
        [{"text": "river", "x": 1}, {"text": "bird"}],
    )
    raw = StratavecVectorStore(Words(), collection=col, text_key="text")
    assert raw.similarity_search("river", k=1) == [Document("river", metadata={"x": 1}, id="1")]


def test_async_methods_leave_the_event_loop_free():
    store = StratavecVectorStore(Words())

    async def main() -> List[Document]:
        ids = await store.aadd_texts(TEXTS, META)
        found, docs = await asyncio.gather(store.asimilarity_search("river", k=2), store.aget_by_ids(ids[:2]))
        assert [d.page_content for d in docs] == TEXTS[:2]
        await store.adelete(ids[:3])
        return found

    found = asyncio.run(main())
    assert {d.metadata["topic"] for d in found} == {"nature"}
    assert store.collection is not None and store.collection.count() == 3

"""The LlamaIndex store: filters against LlamaIndex's own in-memory store as the reference,
writes and deletes, MMR, a VectorStoreIndex on top, folders and snapshots, async, bad input."""

from __future__ import annotations

import asyncio
from typing import Any, List

import numpy as np
import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

import stratavec as sv
from stratavec.llama_index import StratavecVectorStore

COLOURS = ["red", "green", "blue", "amber"]


def make_nodes(n: int = 300, dim: int = 16, seed: int = 7) -> List[TextNode]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    nodes = []
    for i in range(n):
        meta: dict[str, Any] = {"n": i, "score": float(i) / 3.0, "title": f"note {i} on {COLOURS[i % 4]} things"}
        if i % 7:
            meta["colour"] = COLOURS[i % 4]
        meta["tags"] = [COLOURS[j] for j in range(4) if (i >> j) & 1]
        node = TextNode(id_=f"node-{i}", text=f"text of node {i}", metadata=meta, embedding=vectors[i].tolist())
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i % 10}")
        nodes.append(node)
    return nodes


def f(key: str, op: str, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=FilterOperator(op), value=value)


SCALAR_FILTERS = [
    MetadataFilters(filters=[f("colour", "==", "red")]),
    MetadataFilters(filters=[f("colour", "!=", "red")]),
    MetadataFilters(filters=[f("n", ">", 250)]),
    MetadataFilters(filters=[f("n", "<=", 12)]),
    MetadataFilters(filters=[f("score", ">=", 50.5), f("score", "<", 60.0)]),
    MetadataFilters(filters=[f("colour", "in", ["red", "blue"])]),
    MetadataFilters(filters=[f("colour", "nin", ["red", "blue"])]),
    MetadataFilters(filters=[f("title", "text_match", "amber thi")]),
    MetadataFilters(filters=[f("colour", "is_empty", None)]),
    MetadataFilters(filters=[f("n", "<", 30), f("colour", "==", "green")], condition=FilterCondition.OR),
    MetadataFilters(filters=[f("n", "<", 290), f("colour", "==", "green")], condition=FilterCondition.NOT),
    MetadataFilters(filters=[f("tags", "contains", "blue")]),
    MetadataFilters(filters=[f("tags", "any", ["blue", "amber"])]),
    MetadataFilters(filters=[f("tags", "all", ["red", "green", "blue"])]),
]


def test_filtered_queries_match_llamaindex_own_store():
    nodes = make_nodes()
    ours = StratavecVectorStore(index=sv.Flat())
    reference = SimpleVectorStore()
    assert ours.add(nodes) == [n.node_id for n in nodes]
    reference.add(nodes)
    rng = np.random.default_rng(1)
    for filters in [None, *SCALAR_FILTERS]:
        for q in rng.standard_normal((3, 16)):
            query = VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10, filters=filters)
            got, want = ours.query(query), reference.query(query)
            assert got.ids == want.ids, filters
            np.testing.assert_allclose(got.similarities, want.similarities, rtol=1e-4, atol=1e-5)
            assert got.nodes is not None and [n.node_id for n in got.nodes] == got.ids
    first = ours.query(VectorStoreQuery(query_embedding=nodes[5].embedding, similarity_top_k=1)).nodes
    assert first is not None and first[0].get_content() == "text of node 5"
    assert first[0].metadata == nodes[5].metadata and first[0].ref_doc_id == "doc-5"


def test_nested_filters_doc_ids_and_node_ids():
    nodes = make_nodes()
    store = StratavecVectorStore(index=sv.Flat())
    store.add(nodes)
    nested = MetadataFilters(
        filters=[
            f("n", "<", 100),
            MetadataFilters(
                filters=[f("colour", "==", "red"), f("colour", "==", "blue")], condition=FilterCondition.OR
            ),
        ]
    )
    q = VectorStoreQuery(query_embedding=[1.0] * 16, similarity_top_k=300, filters=nested)
    found = store.query(q).nodes or []
    want = {i for i in range(100) if i % 7 and COLOURS[i % 4] in ("red", "blue")}
    assert {n.metadata["n"] for n in found} == want
    q = VectorStoreQuery(query_embedding=[1.0] * 16, similarity_top_k=300, doc_ids=["doc-3", "doc-4"])
    assert {n.metadata["n"] % 10 for n in store.query(q).nodes or []} == {3, 4}
    q = VectorStoreQuery(query_embedding=[1.0] * 16, similarity_top_k=300, node_ids=["node-1", "node-9", "nope"])
    assert sorted(store.query(q).ids or []) == ["node-1", "node-9"]


def test_writes_deletes_and_reads():
    nodes = make_nodes(50)
    store = StratavecVectorStore()
    store.add(nodes)
    assert store.client is not None and store.client.count() == 50
    assert store.client.payload_indexes == {"ref_doc_id": "keyword"}
    store.delete("doc-3")
    assert store.client.count() == 45
    assert [n.node_id for n in store.get_nodes(node_ids=["node-4", "node-3", "node-5"])] == ["node-4", "node-5"]
    evens = store.get_nodes(filters=MetadataFilters(filters=[f("colour", "==", "red")]))
    assert sorted(n.metadata["n"] for n in evens) == [i for i in range(50) if i % 4 == 0 and i % 7 and i % 10 != 3]
    store.delete_nodes(node_ids=["node-0", "node-1"], filters=MetadataFilters(filters=[f("n", "==", 1)]))
    assert [n.node_id for n in store.get_nodes(node_ids=["node-0", "node-1"])] == ["node-0"]
    store.delete_nodes(filters=MetadataFilters(filters=[f("n", ">=", 40)]))
    assert store.client.count() == 44 - 9  # 40..49 but 43 (doc-3) went before
    replaced = TextNode(id_="node-0", text="replaced", embedding=[0.5] * 16)
    store.add([replaced])
    assert store.get_nodes(node_ids=["node-0"])[0].get_content() == "replaced"
    store.clear()
    assert store.client.count() == 0
    assert store.query(VectorStoreQuery(query_embedding=[1.0] * 16, similarity_top_k=3)).ids == []


def test_mmr_mode():
    store = StratavecVectorStore()
    angles = [0.0, 0.2, 0.4, 40.0, -40.0]
    for i, a in enumerate(angles):
        r = np.radians(a)
        store.add([TextNode(id_=f"p{i}", text=str(a), embedding=[float(np.cos(r)), float(np.sin(r))])])
    plain = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=3)
    assert store.query(plain).ids == ["p0", "p1", "p2"]
    mmr = VectorStoreQuery(
        query_embedding=[1.0, 0.0], similarity_top_k=3, mode=VectorStoreQueryMode.MMR, mmr_threshold=0.3
    )
    assert store.query(mmr).ids == ["p0", "p3", "p4"]
    alone = VectorStoreQuery(
        query_embedding=[1.0, 0.0], similarity_top_k=3, mode=VectorStoreQueryMode.MMR, mmr_threshold=1.0
    )
    assert store.query(alone).ids == ["p0", "p1", "p2"]
    assert store.query(mmr, mmr_prefetch_k=3).ids == ["p0", "p2", "p1"]


class Words(BaseEmbedding):
    """Counts of a few words: texts sharing words are close."""

    def _vector(self, text: str) -> List[float]:
        words = text.lower().split()
        return [float(sum(w.startswith(t) for w in words)) + 0.01 for t in ("river", "bird", "music", "water", "song")]

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._vector(text)


def test_a_vector_store_index_on_top_in_a_folder_and_from_a_snapshot(tmp_path):
    texts = ["river water flows", "bird song at dawn", "music and song", "water of the river", "bird on a river"]
    nodes = [TextNode(id_=f"t{i}", text=t, metadata={"i": i}) for i, t in enumerate(texts)]
    store = StratavecVectorStore(path=str(tmp_path / "db"), collection_name="kb")
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=Words()
    )
    found = index.as_retriever(similarity_top_k=2).retrieve("river water")
    assert {n.node.node_id for n in found} == {"t0", "t3"}
    only_birds = index.as_retriever(
        similarity_top_k=3, filters=MetadataFilters(filters=[f("i", "in", [1, 4])])
    ).retrieve("river")
    assert [n.node.node_id for n in only_birds] == ["t4", "t1"]
    store.snapshot(str(tmp_path / "kb.svdb"))
    q = VectorStoreQuery(query_embedding=Words()._vector("bird song"), similarity_top_k=3)
    want = store.query(q)
    store._store.db.close()  # type: ignore[union-attr]
    for again in [
        StratavecVectorStore(path=str(tmp_path / "db"), collection_name="kb"),
        StratavecVectorStore(snapshot=str(tmp_path / "kb.svdb")),
    ]:
        got = again.query(q)
        assert got.ids == want.ids and got.similarities == want.similarities
        index = VectorStoreIndex.from_vector_store(again, embed_model=Words())
        assert index.as_retriever(similarity_top_k=1).retrieve("music")[0].node.node_id == "t2"
    with pytest.raises(sv.ReadOnlyError):
        again.add([TextNode(id_="x", text="x", embedding=[0.0] * 5)])


def test_async_and_distance_metrics():
    nodes = make_nodes(40, dim=4)
    store = StratavecVectorStore(metric="euclid")

    async def main() -> Any:
        await store.async_add(nodes)
        result = await store.aquery(VectorStoreQuery(query_embedding=nodes[3].embedding, similarity_top_k=3))
        await store.adelete("doc-3")
        return result

    result = asyncio.run(main())
    assert result.ids[0] == "node-3" and result.similarities[0] == pytest.approx(1.0)
    assert all(0 < s <= 1 for s in result.similarities) and result.similarities == sorted(
        result.similarities, reverse=True
    )
    assert store.client is not None and store.client.count() == 36


def test_bad_input_gets_clear_errors():
    store = StratavecVectorStore()
    with pytest.raises(ValueError, match="has no embedding"):
        store.add([TextNode(id_="a", text="a")])
    store.add(make_nodes(5, dim=4))
    q = VectorStoreQuery(query_embedding=[1.0] * 4, similarity_top_k=2)
    for filters, message in [
        (MetadataFilters(filters=[f("title", "text_match_insensitive", "NOTE")]), "text_match_insensitive"),
        (MetadataFilters(filters=[f("colour", "in", "red")]), "needs a list"),
        (MetadataFilters(filters=[f("colour", ">", "red")]), "compares numbers"),
        (MetadataFilters(filters=[f("colour", "==", ["red"])]), "needs one value"),
    ]:
        with pytest.raises(ValueError, match=message):
            store.query(VectorStoreQuery(query_embedding=[1.0] * 4, similarity_top_k=2, filters=filters))
    with pytest.raises(ValueError, match="not 'hybrid'"):
        store.query(VectorStoreQuery(query_embedding=[1.0] * 4, mode=VectorStoreQueryMode.HYBRID))
    with pytest.raises(ValueError, match="no embedding"):
        store.query(VectorStoreQuery(query_str="x"))
    with pytest.raises(sv.DimensionMismatchError):
        store.query(VectorStoreQuery(query_embedding=[1.0] * 3))
    with pytest.raises(ValueError, match="use clear"):
        store.delete_nodes()
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.query(q, sparse=True)

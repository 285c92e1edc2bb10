"""Filters: the shared fixture corpus replayed through Python, and the builder."""

import json
import pathlib

import pytest

import stratavec as sv

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "filters"
CASES = [
    pytest.param(case, id=f"{path.stem}: {case['name']}")
    for path in sorted(CORPUS.glob("*.json"))
    for case in json.loads(path.read_text())["cases"]
]


@pytest.mark.parametrize("case", CASES)
def test_fixture_case(db, case):
    col = db.create_collection("c", dim=2, metric="euclid", index=sv.Flat())
    col.upsert([case.get("id", 1)], [[0.0, 1.0]], [case.get("payload", {})])
    if "error" in case:
        with pytest.raises(sv.InvalidFilterError) as e:
            col.count(case["filter"])
        assert case["error"] in str(e.value)
    else:
        assert col.count(case["filter"]) == int(case["expect"])


def test_corpus_is_present():
    assert len(CASES) > 100


def test_builder_produces_the_filter_language():
    f = sv.Field
    assert (f("lang") == "en").to_dict() == {"must": [{"key": "lang", "match": {"value": "en"}}]}
    assert f("lang").any_of(["en", "fr"]).to_dict() == {"must": [{"key": "lang", "match": {"any": ["en", "fr"]}}]}
    assert f("y").between(1, 2).to_dict() == {"must": [{"key": "y", "range": {"gte": 1, "lte": 2}}]}
    both = (f("a") == 1) & (f("b") > 2) & (f("c") <= 3)
    assert both.to_dict() == {
        "must": [
            {"key": "a", "match": {"value": 1}},
            {"key": "b", "range": {"gt": 2}},
            {"key": "c", "range": {"lte": 3}},
        ]
    }
    either = (f("a") == 1) | f("b").is_null()
    assert either.to_dict() == {"should": [{"key": "a", "match": {"value": 1}}, {"is_null": {"key": "b"}}]}
    assert (~(f("a") == 1)).to_dict() == {"must_not": [{"key": "a", "match": {"value": 1}}]}
    assert ~~(f("a") == 1) == (f("a") == 1)
    assert (f("a") != 1) == ~(f("a") == 1)
    nested = ~((f("a") == 1) | (f("b") == 2))
    assert nested.to_dict() == {
        "must_not": [{"should": [{"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 2}}]}]
    }
    with pytest.raises(TypeError, match="truth value"):
        bool(f("a") == 1)
    with pytest.raises(ValueError):
        f("y").between()


def test_builder_filters_match_dict_filters(db):
    col = db.create_collection("b", dim=2, metric="euclid", index=sv.Flat())
    payloads = [{"lang": ["en", "fr", "de"][i % 3], "year": 1990 + i, "draft": i % 4 == 0} for i in range(60)]
    col.upsert(list(range(60)), [[i, 0] for i in range(60)], payloads)
    f = sv.Field
    cases = [
        ((f("lang") == "en") & (f("year") >= 2020), lambda p: p["lang"] == "en" and p["year"] >= 2020),
        (f("lang").any_of(["fr", "de"]) | (f("draft") == True), lambda p: p["lang"] != "en" or p["draft"]),  # noqa: E712
        (~(f("draft") == True) & f("year").between(2000, 2010), lambda p: not p["draft"] and 2000 <= p["year"] <= 2010),  # noqa: E712
    ]
    for cond, pred in cases:
        expect = sum(pred(p) for p in payloads)
        assert col.count(cond) == expect == col.count(cond.to_dict())

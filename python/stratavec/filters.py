"""A small builder for filters, producing the Qdrant-style dicts every stratavec call accepts.

    sv.Field("lang") == "en"                       # match a value
    sv.Field("lang").any_of(["en", "fr"])          # match any of several
    sv.Field("year").between(2000, 2010)           # range, bounds included
    (sv.Field("year") >= 2000) & ~(sv.Field("draft") == True)
    sv.Field("lang").is_empty() | sv.Field("lang").is_null()

`&` requires both sides (`must`), `|` either (`should`), `~` negates (`must_not`). A
condition's `to_dict()` is the filter itself; pass the condition (or that dict) as `filter=`.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Union

Scalar = Union[str, int, bool]
Number = Union[int, float]
FilterDict = Dict[str, Any]


_FILTER_KEYS = {"must", "should", "must_not", "min_should"}


def _is_filter(d: FilterDict) -> bool:
    """Whether `d` is a whole filter (must / should / ...) rather than one condition."""
    return bool(d) and set(d) <= _FILTER_KEYS


class Condition:
    """A filter: one condition, or conditions combined with `&`, `|` and `~`."""

    __slots__ = ("_clause", "_filter")

    def __init__(self, clause: Optional[FilterDict] = None, filter: Optional[FilterDict] = None) -> None:
        # A single condition (a key check) or a whole filter; exactly one is set.
        if (clause is None) == (filter is None):
            raise ValueError("a Condition holds either one clause or one filter")
        self._clause = clause
        self._filter = filter

    def _as_clause(self) -> FilterDict:
        """This condition as an element of a `must` / `should` / `must_not` list."""
        return self._clause if self._clause is not None else self._filter  # type: ignore[return-value]

    def to_dict(self) -> FilterDict:
        """The filter as a dict in the Qdrant filter language."""
        if self._filter is not None:
            return self._filter
        return {"must": [self._clause]}

    def __and__(self, other: Condition) -> Condition:
        parts: List[FilterDict] = []
        for side in (self, other):
            if not isinstance(side, Condition):
                return NotImplemented
            f = side._filter
            if f is not None and set(f) == {"must"}:
                parts.extend(f["must"])
            else:
                parts.append(side._as_clause())
        return Condition(filter={"must": parts})

    def __or__(self, other: Condition) -> Condition:
        parts: List[FilterDict] = []
        for side in (self, other):
            if not isinstance(side, Condition):
                return NotImplemented
            f = side._filter
            if f is not None and set(f) == {"should"}:
                parts.extend(f["should"])
            else:
                parts.append(side._as_clause())
        return Condition(filter={"should": parts})

    def __invert__(self) -> Condition:
        f = self._filter
        if f is not None and set(f) == {"must_not"} and len(f["must_not"]) == 1:
            inner = f["must_not"][0]
            return Condition(filter=inner) if _is_filter(inner) else Condition(clause=inner)
        return Condition(filter={"must_not": [self._as_clause()]})

    def __bool__(self) -> bool:
        raise TypeError(
            "a stratavec condition has no truth value: combine conditions with & | ~, not with and / or / not"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        return f"Condition({self.to_dict()!r})"


class Field:
    """A payload key (a path such as `"meta.lang"` or `"tags[]"`) to build conditions on."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("a field is named by a non-empty key path string")
        self.key = key

    def _cond(self, **check: Any) -> Condition:
        return Condition(clause={"key": self.key, **check})

    def __eq__(self, value: Scalar) -> Condition:  # type: ignore[override]
        """Matches points whose value at the key is `value` (or an array containing it)."""
        if isinstance(value, float):
            raise TypeError("match compares strings, integers and booleans; use between() for floats")
        return self._cond(match={"value": value})

    def __ne__(self, value: Scalar) -> Condition:  # type: ignore[override]
        return ~(self == value)

    def any_of(self, values: Iterable[Scalar]) -> Condition:
        """Matches points whose value is one of `values`."""
        return self._cond(match={"any": list(values)})

    def none_of(self, values: Iterable[Scalar]) -> Condition:
        """Matches points whose value is none of `values`."""
        return self._cond(match={"except": list(values)})

    def text(self, words: str) -> Condition:
        """Matches points whose string value contains `words`."""
        return self._cond(match={"text": words})

    def between(self, low: Optional[Number] = None, high: Optional[Number] = None) -> Condition:
        """Matches numbers (or datetimes as RFC 3339 strings) in `[low, high]`; None leaves
        that side open."""
        bounds: Dict[str, Any] = {}
        if low is not None:
            bounds["gte"] = low
        if high is not None:
            bounds["lte"] = high
        if not bounds:
            raise ValueError("between() needs at least one bound")
        return self._cond(range=bounds)

    def __lt__(self, value: Number) -> Condition:
        return self._cond(range={"lt": value})

    def __le__(self, value: Number) -> Condition:
        return self._cond(range={"lte": value})

    def __gt__(self, value: Number) -> Condition:
        return self._cond(range={"gt": value})

    def __ge__(self, value: Number) -> Condition:
        return self._cond(range={"gte": value})

    def is_empty(self) -> Condition:
        """Matches points where the key is missing, null or an empty array."""
        return Condition(clause={"is_empty": {"key": self.key}})

    def is_null(self) -> Condition:
        """Matches points where the key holds null."""
        return Condition(clause={"is_null": {"key": self.key}})

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Field({self.key!r})"

"""A ``whoosh.query`` tree as the fast path evaluates it: a tree of plain :class:`Node`.

Only what bantin's searcher builds is compiled (terms and slop-1 phrases on the side files'
fields, a phrase possibly boosted (the plan's proximity clauses), ``Or``/``And``/``AndMaybe``/
``AndNot`` of them, ``Every``, the null query); anything else raises :class:`Unsupported` and
the search goes to plain Whoosh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from whoosh import query as wq

from searcher.fastpath.store import FIELDS


class Unsupported(Exception):
    """The query holds something the fast path does not evaluate; use plain Whoosh."""


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a compiled query; a term or phrase names its field and words.

    ``boost`` (phrases only) multiplies the phrase's score, as Whoosh's wrapping matcher does.
    """

    kind: str  # term, phrase, and, or, andmaybe, andnot, every, null
    field: str = ""
    words: tuple[str, ...] = ()
    children: tuple[Node, ...] = ()
    boost: float = 1.0
    #: Worked out once: nodes key the caches (a unit's hash hashed all its children again at
    #: every lookup) and the pruning asks which nodes are units again and again.
    _hash: int = dataclasses.field(default=0, init=False, repr=False, compare=False)
    unit: bool = dataclasses.field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = (self.kind, self.field, self.words, self.children, self.boost)
        object.__setattr__(self, "_hash", hash(key))
        unit = self.kind == "phrase" or all(c.kind in ("term", "phrase") for c in self.children)
        object.__setattr__(self, "unit", unit)

    def __hash__(self) -> int:
        return self._hash


def compile_query(query: wq.Query) -> Node:
    """The query as evaluation nodes, or :class:`Unsupported`."""
    boost = getattr(query, "boost", 1.0)
    if boost != 1.0 and not (isinstance(query, wq.Phrase) and len(query.words) > 1 and boost > 0):
        raise Unsupported("boosted query")
    if isinstance(query, wq.Term):
        if query.fieldname not in FIELDS or not isinstance(query.text, str):
            raise Unsupported(f"term on {query.fieldname}")
        return Node("term", query.fieldname, (query.text,))
    if isinstance(query, wq.Phrase):
        if query.fieldname not in FIELDS or query.slop != 1:
            raise Unsupported("phrase")
        words = tuple(query.words)
        if len(words) == 1:
            return Node("term", query.fieldname, words)
        return Node("phrase", query.fieldname, words, boost=float(boost))
    if isinstance(query, wq.Or):
        if query.scale is not None or query.minmatch:
            raise Unsupported("Or with scale/minmatch")
        return Node("or", children=tuple(compile_query(q) for q in query.subqueries))
    if isinstance(query, wq.And):
        return Node("and", children=tuple(compile_query(q) for q in query.subqueries))
    if isinstance(query, wq.AndMaybe):
        return Node("andmaybe", children=(compile_query(query.a), compile_query(query.b)))
    if isinstance(query, wq.AndNot):
        return Node("andnot", children=(compile_query(query.a), compile_query(query.b)))
    if isinstance(query, wq.Every) and query.fieldname in (None, "*"):
        return Node("every")
    if query is wq.NullQuery:
        return Node("null")
    raise Unsupported(type(query).__name__)


def is_unit(node: Node) -> bool:
    """Whether the node is one unit of the query: a phrase, or an ``Or`` of terms and phrases
    (one word or phrase in every field)."""
    return node.unit


class NodeFacts:
    """Facts about one generation's compiled query nodes (their postings walked, the most
    they add to a score, their leaves), kept by node: a recurring query's nodes are kept
    (see FastIndex.compile), and these facts are the same at every search of the
    generation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._facts: dict[tuple[str, int], tuple[Node, Any]] = {}

    def get(self, kind: str, node: Node, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered as ``kind`` of ``node`` (by its id, the node kept so
        that the id stays its own)."""
        key = (kind, id(node))
        known = self._facts.get(key)
        if known is not None and known[0] is node:
            return known[1]
        value = compute()
        if len(self._facts) > self.limit:
            self._facts.clear()
        self._facts[key] = (node, value)
        return value

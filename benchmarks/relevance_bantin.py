"""bantin alone on parts of the relevance benchmark, with the product's plan or a variant of it.

    python benchmarks/relevance_bantin.py alqac topical known [--forms fragment,...]
        [--first 300] [--plan proximity=0 --plan any_word_above=0 ...]

The full run (``benchmarks/relevance.py``) builds every ablation and baseline and takes half
an hour; checking a ranking change needs only bantin's figures. This builds (or reuses, from
the same cache and with the same keys) only the bantin index of each corpus, in one process,
and prints one JSON line per part: known-item MRR@10 / recall@10 per form (the same sampled
queries as the full run), topical nDCG@10 per form, ALQAC MRR@10 / recall@10 / nDCG@10. A
``--plan name=value`` sets a field of :class:`searcher.plan.PlanOptions` (numbers and
true/false are parsed), so the product's choices can be switched off one at a time.
``--first N`` keeps the first N known items of each form (the same queries whatever N, a
prefix of the full run's): a few minutes instead of a quarter of an hour while iterating.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import relevance
from benchmarks.common import format_key, require_data
from benchmarks.relevance_queries import known_items, read_qrels, topical_queries
from benchmarks.relevance_systems import SYSTEMS, build_bantin, query_patches, read_corpus

PARTS = ("known", "topical", "alqac")


def bantin_index(name: str, corpus: Path, records: list[tuple[str, str, str]], jobs: int) -> Path:
    """The product's index of ``corpus``, where ``relevance.build_systems`` caches it."""
    key = f"{relevance.records_key(records)}-{format_key()}"
    return build_bantin(corpus, relevance.WORK / f"{name}-bantin-full-{key}", "full", jobs)


@contextlib.contextmanager
def ranker(index: Path, plan: dict[str, Any]) -> Iterator[Callable[[str], list[str]]]:
    """``rank(query) -> ids`` of bantin's top ten under ``plan`` (snippets skipped)."""
    from searcher import Searcher
    from searcher.plan import PlanOptions

    with contextlib.ExitStack() as stack:
        for patch in query_patches(SYSTEMS[0]):
            stack.enter_context(patch)
        searcher = stack.enter_context(Searcher(index, plan=PlanOptions(**plan)))
        yield lambda query: [hit.id for hit in searcher.search(query, per_page=10).hits]


def run_part(
    part: str,
    plan: dict[str, Any],
    n: int,
    count: int,
    forms: list[str],
    jobs: int,
    first: int = 0,
) -> dict[str, Any]:
    data = require_data()
    relevance.WORK.mkdir(parents=True, exist_ok=True)
    if part == "alqac":
        result: dict[str, Any] = {}
        for label, (_corpus, _queries, stem) in relevance.ALQAC_SETS.items():
            corpus, records, texts, relevant = relevance.alqac_set(data, label)
            with ranker(bantin_index(stem, corpus, records, jobs), plan) as rank:
                result[label] = relevance.retrieval_scores([rank(t) for t in texts], relevant)
        return result
    corpus = relevance.corpus_file(n)
    records = read_corpus(corpus)
    index = bantin_index("news", corpus, records, jobs)
    if part == "topical":
        qrels = read_qrels(relevance.QRELS.read_text(encoding="utf-8"))
        by_form: dict[str, list[float]] = defaultdict(list)
        judged: list[bool] = []
        with ranker(index, plan) as rank:
            for topic, form, query in topical_queries():
                ranked, grades = rank(query), qrels.get(topic, {})
                by_form[form].append(relevance.ndcg(ranked, grades))
                by_form["all"].append(by_form[form][-1])
                judged.extend(doc in grades for doc in ranked)
        return {
            **{form: relevance.mean(values) for form, values in by_form.items()},
            "judged": sum(judged) / len(judged) if judged else float("nan"),
        }
    local_gov = relevance.local_gov_ids(data) & {doc_id for doc_id, _, _ in records}
    items = known_items(records, local_gov, count, relevance.SEED)
    items = [item for item in items if not forms or item.form in forms]
    if first:
        seen: dict[str, int] = defaultdict(int)
        kept = []
        for item in items:
            seen[item.form] += 1
            if seen[item.form] <= first:
                kept.append(item)
        items = kept
    reciprocal: dict[str, list[float]] = defaultdict(list)
    found: dict[str, list[float]] = defaultdict(list)
    with ranker(index, plan) as rank:
        for item in items:
            ranked = rank(item.query)
            reciprocal[item.form].append(relevance.reciprocal_rank(ranked, {item.doc_id}))
            found[item.form].append(relevance.recall(ranked, {item.doc_id}))
    return {
        form: {
            "mrr": relevance.mean(values),
            "recall": relevance.mean(found[form]),
            "n": len(values),
        }
        for form, values in reciprocal.items()
    }


def plan_value(text: str) -> tuple[str, Any]:
    name, _, raw = text.partition("=")
    value: Any = {"true": True, "false": False}.get(raw.lower(), raw)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(raw) if "." in raw else int(raw)
    return name, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="+", choices=PARTS)
    parser.add_argument("--n", type=int, default=20_000, help="bulletins in the news index")
    parser.add_argument("--queries", type=int, default=1_000, help="known items per form")
    parser.add_argument("--forms", default="", help="known-item forms, comma-separated (all)")
    parser.add_argument("--first", type=int, default=0, help="known items per form kept (all)")
    parser.add_argument("--plan", action="append", default=[], help="a PlanOptions field=value")
    parser.add_argument("--jobs", type=int, default=2, help="processes for building an index")
    args = parser.parse_args(argv)
    plan = dict(plan_value(text) for text in args.plan)
    forms = [form for form in args.forms.split(",") if form]
    for part in args.parts:
        started = time.perf_counter()
        result = run_part(part, plan, args.n, args.queries, forms, args.jobs, args.first)
        seconds = round(time.perf_counter() - started, 1)
        line = {"part": part, "plan": plan, "result": result, "seconds": seconds}
        print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()

"""Search quality you can measure: bantin, its ablations and two portal baselines on real text.

    python benchmarks/relevance.py [--n 20000] [--queries 1000] [--out docs]

Builds (once, cached under ``bench-out/relevance/``) an index of ``--n`` real bulletins
(VietNews and Báo Mới, read in place from ``../shared/data``) for bantin, for each ablation of
its analysis, for SQLite FTS5 and for Whoosh's ``StandardAnalyzer``; then measures

* known-item search: each sampled bulletin's own title in the forms people type
  (:mod:`benchmarks.relevance_queries`), MRR@10 and recall@10;
* topical search: queries written for this benchmark, judged by reading the pooled top ten of
  every system (``benchmarks/judgments/topical_qrels.tsv``), nDCG@10;
* ALQAC legal retrieval (real questions with judged articles) as an outside check;
* accent restoration of titles of bulletins that are not in the index
  (:mod:`benchmarks.relevance_restore`).

Writes the tables into ``<out>/relevance.md`` (between the ``results`` markers, keeping the
hand-written text around them), the chart ``<out>/relevance.png``, and every per-query result
to ``bench-out/relevance/results-<n>.json``. ``--pool FILE`` also writes the unjudged part of
the pooled top ten of every topical query, with text to read, for judging; ``--report-only``
rewrites the report from the last run's results (after adding judgments, say). How each
system and ablation is made is documented in :mod:`benchmarks.relevance_systems`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    CORPORA,
    OUT,
    REPO,
    format_key,
    machine,
    real_bulletins,
    require_data,
)
from benchmarks.relevance_queries import (
    ACRONYMS,
    FORMS,
    TOPICS,
    KnownItem,
    known_items,
    read_qrels,
    strip_diacritics,
    topical_queries,
)
from benchmarks.relevance_restore import SUGGESTION_LIMIT, evaluate
from benchmarks.relevance_systems import (
    BASELINES,
    EXPERIMENTS,
    SYSTEMS,
    build_bantin,
    build_fts5,
    build_whoosh_standard,
    rank_all,
    read_corpus,
)

WORK = OUT / "relevance"
QRELS = REPO / "benchmarks" / "judgments" / "topical_qrels.tsv"
ALQAC_SETS = {
    "ALQAC 2023": ("alqac2023_legal_corpus.jsonl.gz", "alqac2023_queries.jsonl", "alqac2023"),
    "ALQAC Oct 2023": (
        "alqac_oct2023_legal_corpus.jsonl.gz",
        "alqac_oct2023_queries.jsonl",
        "alqac_oct2023",
    ),
}
#: In the cache name of ablation indexes; bumped when the way they are built changes (2: in
#: one process, so the analysis patches reach the indexing, which recipe 1 did not).
ABLATION_RECIPE = 2
SEED = 2024
K = 10
START, END = "<!-- results:start -->", "<!-- results:end -->"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- corpus and indexes -------------------------------------------------------------------


def write_atomically(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text("".join(lines), encoding="utf-8")
    os.replace(temp, path)
    return path


def corpus_file(n: int) -> Path:
    path = WORK / f"corpus-{n}.jsonl"
    if not path.exists():
        records = real_bulletins(n)
        write_atomically(path, [json.dumps(r, ensure_ascii=False) + "\n" for r in records])
    return path


def records_key(records: list[tuple[str, str, str]]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update("\x1f".join(record).encode("utf-8"))
    return digest.hexdigest()[:10]


def build_systems(
    name: str, corpus: Path, records: list[tuple[str, str, str]], jobs: int
) -> dict[str, Path]:
    """Index ``corpus`` for every system; returns system key → index location."""
    key = records_key(records)
    bantin_key = f"{key}-{format_key()}"
    variants = {s.index_variant for s in SYSTEMS if s.kind == "bantin"}
    built = {
        variant: build_bantin(
            corpus, WORK / f"{name}-bantin-{variant}{recipe}-{bantin_key}", variant, jobs
        )
        for variant in sorted(variants)
        for recipe in ["" if variant == "full" else f"-r{ABLATION_RECIPE}"]
    }
    locations: dict[str, Path] = {}
    for system in (*SYSTEMS, *EXPERIMENTS):
        if system.kind == "bantin":
            locations[system.key] = built[system.index_variant]
        elif system.kind == "fts5":
            locations[system.key] = build_fts5(records, WORK / f"{name}-fts5-{key}.sqlite")
        else:
            locations[system.key] = build_whoosh_standard(records, WORK / f"{name}-whoosh-{key}")
    return locations


def local_gov_ids(data: Path) -> set[str]:
    """Ids of the records with ``mentions_local_gov`` (the shared loader drops the field, so
    the files are read here)."""
    found: set[str] = set()
    for name in CORPORA:
        with gzip.open(data / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("mentions_local_gov"):
                    found.add(record["id"])
    return found


# --- metrics ------------------------------------------------------------------------------


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    for position, doc_id in enumerate(ranked[:K], 1):
        if doc_id in relevant:
            return 1.0 / position
    return 0.0


def recall(ranked: list[str], relevant: set[str]) -> float:
    return len(set(ranked[:K]) & relevant) / len(relevant) if relevant else 0.0


def ndcg(ranked: list[str], grades: dict[str, int]) -> float:
    gains = [2 ** grades.get(doc_id, 0) - 1 for doc_id in ranked[:K]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2**g - 1 for g in grades.values() if g > 0), reverse=True)[:K]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


# --- runs ---------------------------------------------------------------------------------


Task = tuple[str, Path, list[str], bool]  # system key, index, queries, any-word mode


def run_tasks(tasks: list[Task], jobs: int) -> list[list[list[str]]]:
    """Ranked ids of every task's queries; tasks run in ``jobs`` worker processes.

    Each task runs in a fresh process so one system's patches never leak into another's.
    """
    context = multiprocessing.get_context("forkserver")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [pool.submit(rank_all, *task) for task in tasks]
        results = []
        for task, future in zip(tasks, futures, strict=True):
            results.append(future.result())
            key, _location, queries, any_word = task
            log(
                f"    {LABELS[key]}{' (OR)' if any_word else ''}: {len(queries)} queries, "
                f"{time.perf_counter() - started:.0f} s since start"
            )
    return results


def known_item_run(
    items: list[KnownItem], locations: dict[str, Path], jobs: int
) -> dict[str, list[int]]:
    """System key → rank (1–10, 0 when not in the top ten) of each item's bulletin."""
    queries = [item.query for item in items]
    tasks = [(s.key, locations[s.key], queries, False) for s in (*SYSTEMS, *EXPERIMENTS)]
    ranks: dict[str, list[int]] = {}
    for (key, *_rest), ranked in zip(tasks, run_tasks(tasks, jobs), strict=True):
        ranks[key] = [
            (lists.index(item.doc_id) + 1) if item.doc_id in lists else 0
            for item, lists in zip(items, ranked, strict=True)
        ]
    return ranks


def summarize_known_items(
    items: list[KnownItem], ranks: dict[str, list[int]]
) -> dict[str, dict[str, dict[str, float]]]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for key, system_ranks in ranks.items():
        by_form: dict[str, list[int]] = defaultdict(list)
        for item, rank in zip(items, system_ranks, strict=True):
            by_form[item.form].append(rank)
        table[key] = {
            form: {
                "mrr": mean([1 / r if r else 0.0 for r in values]),
                "recall": mean([1.0 if r else 0.0 for r in values]),
                "n": len(values),
            }
            for form, values in by_form.items()
        }
    return table


def paired_differences(
    items: list[KnownItem], ranks: dict[str, list[int]], reps: int = 2000
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per system and form: mean of (bantin − system) reciprocal rank, with a 95 % paired
    bootstrap interval (queries resampled with replacement, fixed seed)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    reciprocal = {k: np.array([1 / r if r else 0.0 for r in v]) for k, v in ranks.items()}
    forms = np.array([item.form for item in items])
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for key in ranks:
        if key == "bantin":
            continue
        table[key] = {}
        for form in FORMS:
            mask = forms == form
            if not mask.any():
                continue
            diff = reciprocal["bantin"][mask] - reciprocal[key][mask]
            means = diff[rng.integers(0, diff.size, (reps, diff.size))].mean(axis=1)
            low, high = np.percentile(means, [2.5, 97.5])
            table[key][form] = (float(diff.mean()), float(low), float(high))
    return table


def acronym_breakdown(
    items: list[KnownItem], ranks: dict[str, list[int]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per acronym-related form and acronym: queries, recall@10 of bantin, of bantin without
    acronyms and of FTS5, and whether bantin's table expands the acronym."""
    from searcher.query import parse_query

    table: dict[str, dict[str, dict[str, float]]] = {}
    for form in ("acronym", "expanded"):
        rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for position, item in enumerate(items):
            if item.form != form:
                continue
            words = item.query.split() if form == "acronym" else list(item.source_words)
            for _expansion, acronym in ACRONYMS:
                if acronym in words:
                    for key in ("bantin", "no_acronyms", "fts5"):
                        rows[acronym][key].append(1.0 if ranks[key][position] else 0.0)
        table[form] = {}
        for acronym, by_system in rows.items():
            parsed = parse_query(acronym)
            known = bool(parsed.groups) and len(parsed.groups[0][0].alternatives) > 1
            table[form][acronym] = {
                "n": len(by_system["bantin"]),
                **{key: mean(values) for key, values in by_system.items()},
                "in_table": float(known),
            }
    return table


def topical_run(locations: dict[str, Path], jobs: int) -> dict[str, list[list[str]]]:
    queries = [query for _topic, _form, query in topical_queries()]
    systems = (*SYSTEMS, *EXPERIMENTS)
    tasks = [(s.key, locations[s.key], queries, False) for s in systems]
    return dict(zip([s.key for s in systems], run_tasks(tasks, jobs), strict=True))


def summarize_topical(
    ranked: dict[str, list[list[str]]], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    queries = topical_queries()
    table: dict[str, dict[str, float]] = {}
    for key, lists in ranked.items():
        scores: dict[str, list[float]] = defaultdict(list)
        judged: list[float] = []
        for (topic, form, _query), docs in zip(queries, lists, strict=True):
            grades = qrels.get(topic, {})
            value = ndcg(docs, grades)
            scores[form].append(value)
            scores["all"].append(value)
            judged.extend(1.0 if d in grades else 0.0 for d in docs[:K])
        table[key] = {form: mean(values) for form, values in scores.items()}
        table[key]["judged"] = mean(judged) if judged else float("nan")
        table[key]["returned"] = mean([min(len(d), K) for d in lists])
    return table


def write_pool(
    path: Path,
    ranked: dict[str, list[list[str]]],
    records: list[tuple[str, str, str]],
    qrels: dict[str, dict[str, int]],
) -> None:
    """Every topic's pooled top ten (union over systems and query forms), to read and judge.

    Each unjudged bulletin is shown with its title, lead and the passages where the topic's
    words occur together (accents ignored).
    """
    text_of = {doc_id: (title, body) for doc_id, title, body in records}
    queries = topical_queries()
    pools: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for key, lists in ranked.items():
        for (topic, form, _query), docs in zip(queries, lists, strict=True):
            for doc_id in docs[:K]:
                pools[topic][doc_id].add(f"{key}/{form}")
    lines: list[str] = []
    for topic, about, query in TOPICS:
        pool = pools.get(topic, {})
        fresh = [d for d in pool if d not in qrels.get(topic, {})]
        lines.append(f"# {topic}  {query}  — {about}  ({len(pool)} pooled, {len(fresh)} new)\n")
        phrase = strip_diacritics(query).lower()
        for doc_id in sorted(fresh):
            title, body = text_of[doc_id]
            flat = " ".join(body.split())
            lines.append(f"{topic}\t{doc_id}\t{title}\n    LEAD {flat[:400]}\n")
            folded = strip_diacritics(flat).lower()
            start, shown = 0, 0
            while shown < 2 and (found := folded.find(phrase, start)) >= 0:
                lines.append(f"    HIT  …{flat[max(0, found - 200) : found + 250]}…\n")
                start, shown = found + 250, shown + 1
            if not shown:
                lines.append(f"    (phrase not in body; {folded.count(phrase.split()[0])} hits)\n")
        lines.append("\n")
    write_atomically(path, lines)


def alqac_set(
    data: Path, label: str
) -> tuple[Path, list[tuple[str, str, str]], list[str], list[set[str]]]:
    """One ALQAC set: its articles as a JSONL corpus, their records, the judged questions and
    each question's relevant article ids."""
    corpus_name, queries_name, stem = ALQAC_SETS[label]
    with gzip.open(data / corpus_name, "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle]
    lines = [
        json.dumps({"id": a["id"], "title": a["title"], "body": a["body"]}, ensure_ascii=False)
        + "\n"
        for a in articles
    ]
    corpus = write_atomically(WORK / f"{stem}-corpus.jsonl", lines)
    queries = [
        json.loads(line)
        for line in (data / queries_name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (data / f"{stem}_qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc_id, _relevance = line.split("\t")
        qrels[qid].add(doc_id)
    queries = [q for q in queries if q["qid"] in qrels]
    return (
        corpus,
        read_corpus(corpus),
        [q["text"] for q in queries],
        [qrels[q["qid"]] for q in queries],
    )


def alqac_run(data: Path, jobs: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per set: system (and baseline AND/OR mode) → MRR@10, recall@10, nDCG@10."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for label, (_corpus_name, _queries_name, stem) in ALQAC_SETS.items():
        corpus, records, texts, relevant = alqac_set(data, label)
        log(f"  {label}: {len(records)} articles")
        locations = build_systems(stem, corpus, records, jobs)
        tasks = [
            (system.key, locations[system.key], texts, any_word)
            for system in (*SYSTEMS, *EXPERIMENTS)
            for any_word in ([False, True] if system.key in BASELINES else [False])
        ]
        table: dict[str, dict[str, float]] = {}
        for (key, _location, _texts, any_word), ranked in zip(
            tasks, run_tasks(tasks, jobs), strict=True
        ):
            table[key + (" OR" if any_word else "")] = retrieval_scores(ranked, relevant)
        results[label] = table
    return results


def retrieval_scores(ranked: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    """MRR@10, recall@10 and nDCG@10 (binary gains) of ranked lists, and their number."""
    pairs = list(zip(ranked, relevant, strict=True))
    return {
        "mrr": mean([reciprocal_rank(r, rel) for r, rel in pairs]),
        "recall": mean([recall(r, rel) for r, rel in pairs]),
        "ndcg": mean([ndcg(r, dict.fromkeys(rel, 1)) for r, rel in pairs]),
        "n": len(pairs),
    }


def restoration_titles(n: int, count: int, indexed: set[str], data: Path) -> list[str]:
    """Titles of local-government bulletins after the first ``n`` (so not in the index)."""
    flagged = local_gov_ids(data)
    titles: list[str] = []
    seen_titles = set()
    for record in real_bulletins(count * 8, skip=n):
        title = record["title"].strip()
        if record["id"] in indexed or record["id"] not in flagged or title in seen_titles:
            continue
        if len(title.split()) < 4:
            continue
        seen_titles.add(title)
        titles.append(title)
        if len(titles) == count:
            break
    return titles


# --- report -------------------------------------------------------------------------------

LABELS = {s.key: s.label for s in (*SYSTEMS, *EXPERIMENTS)}
MAIN = [s.key for s in SYSTEMS]
RESTORERS = {
    "unaccented": "left unaccented (baseline)",
    "most_frequent": "most frequent accented form (baseline)",
    "suggestion": "bantin `Results.suggestion` (public `Searcher.search`)",
    "restore": "bantin `Vocabulary.restore` on every title",
    "bigram_prototype": "prototype: syllable-bigram Viterbi (not in the product)",
}


CHART_FORMS = {
    "published": "as published",
    "unaccented": "no diacritics",
    "lower": "lower-cased",
    "fragment": "fragment\n(3–6 words)",
    "fragment_unaccented": "fragment,\nno diacritics",
    "tone": "tone placement\nhòa↔hoà",
    "tone_fragment": "fragment,\nhòa↔hoà",
    "nfd": "NFD",
    "acronym": "acronym\n(UBND, TP …)",
    "expanded": "acronym spelled\nout (Ủy ban …)",
}


def fmt(value: float, digits: int = 3) -> str:
    return "–" if value != value else f"{value:.{digits}f}"


def known_item_tables(summary: dict, forms: list[str], keys: list[str]) -> list[str]:
    lines = ["| system | " + " | ".join(FORMS[f] for f in forms) + " |"]
    lines.append("|---|" + "---:|" * len(forms))
    counts = {f: int(summary["bantin"][f]["n"]) for f in forms}
    lines.append("| *queries* | " + " | ".join(f"*{counts[f]}*" for f in forms) + " |")
    best = {f: max(summary[k][f]["mrr"] for k in keys) for f in forms}
    for key in keys:
        row = summary[key]
        cells = []
        for f in forms:
            text = f"{fmt(row[f]['mrr'])} / {fmt(row[f]['recall'], 2)}"
            cells.append(f"**{text}**" if row[f]["mrr"] == best[f] else text)
        lines.append(f"| {LABELS[key]} | " + " | ".join(cells) + " |")
    return lines


def render(result: dict, command: str) -> str:
    out: list[str] = []
    meta = result["meta"]
    out += [
        f"Command: `{command}`  ",
        f"Machine: {meta['machine']}  ",
        f"Run: {meta['date']}, code `{meta['code']}`, index format key `{meta['format_key']}`  ",
        f"Corpus: {meta['documents']:,} bulletins (VietNews and Báo Mới interleaved, "
        f"`benchmarks.common.real_bulletins({meta['n']})`), "
        f"{meta['local_gov']:,} of them mention local government.",
        "",
        "### Known-item search: MRR@10 / recall@10",
        "",
        "Each query is a sampled bulletin's own title in one form; that bulletin is the one "
        "relevant answer. Best MRR per column in bold.",
        "",
    ]
    forms = [f for f in FORMS if f in result["known_item"]["bantin"]]
    out += known_item_tables(result["known_item"], forms, MAIN)
    extra = [k for k in result["known_item"] if k not in MAIN]
    if extra:
        out += [
            "",
            "What-if variants of bantin (not the product; possible changes, same queries; bold: "
            "best of these rows):",
            "",
            *known_item_tables(result["known_item"], forms, ["bantin", *extra]),
        ]
    differences = result.get("differences")
    if differences:
        out += [
            "",
            "#### bantin minus each system: MRR@10 difference [95 % paired bootstrap interval]",
            "",
            "Positive: bantin ranks the bulletin higher. In bold: intervals entirely below zero "
            "(the other system is reliably better on that form).",
            "",
            "| bantin − | " + " | ".join(FORMS[f] for f in forms) + " |",
            "|---|" + "---:|" * len(forms),
        ]
        for key, by_form in differences.items():
            cells = []
            for f in forms:
                value, low, high = by_form[f]
                text = f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"
                cells.append(f"**{text}**" if high < 0 else text)
            out.append(f"| {LABELS[key]} | " + " | ".join(cells) + " |")
    breakdown = result.get("acronyms")
    if breakdown:
        out += [
            "",
            "#### Acronym forms by acronym: recall@10",
            "",
            "*in table*: whether bantin's acronym table (`searcher/data/acronyms.tsv`) expands "
            "the acronym as typed.",
            "",
            "| form | acronym | queries | in table | bantin | bantin − acronyms | FTS5 |",
            "|---|---|---:|---|---:|---:|---:|",
        ]
        for form, rows in breakdown.items():
            ordered = sorted(rows.items(), key=lambda item: -item[1]["n"])
            for acronym, row in ordered:
                out.append(
                    f"| {FORMS[form].split(' (')[0]} | {acronym} | {int(row['n'])} | "
                    f"{'yes' if row['in_table'] else '**no**'} | {fmt(row['bantin'], 2)} | "
                    f"{fmt(row['no_acronyms'], 2)} | {fmt(row['fts5'], 2)} |"
                )
    topical = result["topical"]
    out += [
        "",
        "### Topical search: nDCG@10",
        "",
        f"{len(TOPICS)} topics × 2 forms (with accents; without accents, lower-case) = "
        f"{2 * len(TOPICS)} queries, graded 0/1/2 by reading the pooled top ten of every "
        "system. *judged* is the share of returned top-ten documents that carry a judgment "
        "(unjudged ones count as not relevant); *returned* is the mean number of results "
        "(of ten).",
        "",
        "| system | with accents | without accents | all | judged | returned |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, row in topical.items():
        out.append(
            f"| {LABELS[key]} | {fmt(row.get('accented', float('nan')))} | "
            f"{fmt(row.get('unaccented', float('nan')))} | {fmt(row.get('all', float('nan')))} | "
            f"{fmt(row['judged'], 2)} | {fmt(row['returned'], 1)} |"
        )
    for label, table in result.get("alqac", {}).items():
        first = next(iter(table.values()))
        out += [
            "",
            f"### {label} legal retrieval (outside check, {int(first['n'])} questions)",
            "",
            "Real questions with judged law articles; nothing was tuned to them. Baselines are "
            "shown with all words required (AND, as above) and with any word (OR); bantin "
            "matches any word of a question of more than 12 words, and requires all words "
            "of a shorter one, falling back to any word when nothing has them all.",
            "",
            "| system | MRR@10 | recall@10 | nDCG@10 |",
            "|---|---:|---:|---:|",
        ]
        for key, row in table.items():
            base, _, mode = key.partition(" ")
            name = LABELS[base] + (" — any word (OR)" if mode else "")
            if base in BASELINES and not mode:
                name += " — all words (AND)"
            out.append(
                f"| {name} | {fmt(row['mrr'])} | {fmt(row['recall'])} | {fmt(row['ndcg'])} |"
            )
    restore = result.get("restoration")
    if restore:
        every, short = restore["all"], restore["short"]
        out += [
            "",
            f"### Accent restoration ({every['unaccented']['titles']} titles not in the index)",
            "",
            "Titles of local-government bulletins outside the index, typed without diacritics "
            "and lower-case. Syllable accuracy counts syllables with a letter; *exact* is the "
            "share of titles restored without a single wrong syllable. With the index's "
            "language model `Results.suggestion` is made for queries of any length; the "
            f"second pair of columns ({short['unaccented']['titles']} titles of at most "
            f"{SUGGESTION_LIMIT} syllables, the older restorer's limit) compares with earlier "
            "runs. Anchor: underthesea reports 95.0 % syllable accuracy on its own test set.",
            "",
            "| restorer | syllables, all titles | exact, all titles | "
            f"syllables, ≤ {SUGGESTION_LIMIT} | exact, ≤ {SUGGESTION_LIMIT} |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, label in RESTORERS.items():
            a, b = every[key], short[key]
            out.append(
                f"| {label} | {100 * a['accuracy']:.1f} % | {100 * a['exact_rate']:.1f} % | "
                f"{100 * b['accuracy']:.1f} % | {100 * b['exact_rate']:.1f} % |"
            )
        model = result.get("restoration_model")
        if model:
            out += [
                "",
                f"The prototype's model, counted from the indexed titles and bodies: "
                f"{model['tokens']:,} syllable tokens, {model['syllables']:,} distinct "
                f"syllables, {model['bigrams']:,} distinct syllable pairs "
                f"({model['seconds']:.0f} s to count in pure Python).",
            ]
    return "\n".join(out) + "\n"


def write_report(path: Path, body: str) -> None:
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if START in text and END in text:
            head, _, rest = text.partition(START)
            _, _, tail = rest.partition(END)
            path.write_text(f"{head}{START}\n{body}{END}{tail}", encoding="utf-8")
            return
    path.write_text(f"# Search quality\n\n{START}\n{body}{END}\n", encoding="utf-8")


def chart(path: Path, result: dict) -> None:
    """Systems × query forms as a table of coloured, numbered cells: known-item MRR@10 by
    form, and topical nDCG@10 with and without accents."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    forms = [f for f in FORMS if f in result["known_item"]["bantin"]]
    keys = [k for k in MAIN if k in result["known_item"]]
    known = np.array([[result["known_item"][k][f]["mrr"] for f in forms] for k in keys])
    topical = np.array(
        [
            [result["topical"][k].get(form, np.nan) for form in ("accented", "unaccented")]
            for k in keys
        ]
    )
    counts = {f: int(result["known_item"]["bantin"][f]["n"]) for f in forms}
    form_labels = [
        CHART_FORMS[f] + (f"\n({counts[f]} queries)" if counts[f] != max(counts.values()) else "")
        for f in forms
    ]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(15, 5.2), gridspec_kw={"width_ratios": [len(forms), 2]}
    )
    panels = (
        (
            left,
            known,
            form_labels,
            "Known-item search, MRR@10: a bulletin's own title as people type it "
            f"({max(counts.values()):,} queries per form unless noted)",
        ),
        (
            right,
            topical,
            ["with\naccents", "without\naccents"],
            f"Topical, nDCG@10\n({len(TOPICS)} topics, judged)",
        ),
    )
    for axis, values, labels, title in panels:
        image = axis.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        axis.set_xticks(range(len(labels)), labels, fontsize=8)
        axis.xaxis.tick_top()
        axis.set_yticks(range(len(keys)), [LABELS[k] for k in keys] if axis is left else [])
        axis.tick_params(length=0)
        for (row, column), value in np.ndenumerate(values):
            weight = "bold" if keys[row] == "bantin" else "normal"
            axis.text(
                column, row, fmt(value, 2), ha="center", va="center", fontsize=9, fontweight=weight
            )
        axis.axhline(keys.index(BASELINES[0]) - 0.5, color="black", linewidth=1.5)
        axis.set_title(title, fontsize=10, pad=34)
    left.get_yticklabels()[keys.index("bantin")].set_fontweight("bold")
    fig.colorbar(image, ax=right, fraction=0.25, pad=0.08)
    fig.suptitle(
        f"bantin, its ablations and two portal baselines on {result['meta']['documents']:,} real "
        "Vietnamese news bulletins (green: better)",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- main ---------------------------------------------------------------------------------


def code_version() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="bulletins in the index")
    parser.add_argument(
        "--queries", type=int, default=1_000, help="known-item bulletins sampled per query form"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the report")
    parser.add_argument(
        "--jobs", type=int, default=2, help="processes for segmenting and for running systems"
    )
    parser.add_argument("--restore", type=int, default=1_000, help="titles for accent restoration")
    parser.add_argument("--pool", type=Path, help="also write the topical judging pool here")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the last run's results (e.g. after adding judgments)",
    )
    parser.add_argument("--skip-alqac", action="store_true", help="leave out the ALQAC check")
    parser.add_argument(
        "--restore-only",
        action="store_true",
        help="only the accent restoration, printed (e.g. --n 2000 for the small-index target)",
    )
    args = parser.parse_args(argv)
    if args.restore_only:
        restore_only(args)
        return
    command = "python benchmarks/relevance.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    raw_path = WORK / f"results-{args.n}.json"
    if args.report_only:
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
    else:
        raw = run(args, command)
        raw_path.write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    qrels = read_qrels(QRELS.read_text(encoding="utf-8")) if QRELS.exists() else {}
    raw["topical"] = summarize_topical(raw["topical_ranked"], qrels)
    if args.pool:
        records = read_corpus(corpus_file(args.n))
        write_pool(args.pool, raw["topical_ranked"], records, qrels)
        log(f"pool written to {args.pool}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out / "relevance.md", render(raw, raw["meta"]["command"]))
    chart(args.out / "relevance.png", raw)
    log(f"wrote {args.out / 'relevance.md'} and {args.out / 'relevance.png'}")


def run(args: argparse.Namespace, command: str) -> dict:
    """Build what is missing, run every measurement; the raw results, tables included."""
    data = require_data()
    WORK.mkdir(parents=True, exist_ok=True)
    log(f"corpus: {args.n} bulletins")
    corpus = corpus_file(args.n)
    records = read_corpus(corpus)
    locations = build_systems("news", corpus, records, args.jobs)
    indexed = {doc_id for doc_id, _, _ in records}
    local_gov = local_gov_ids(data) & indexed

    log("topical queries")
    ranked = topical_run(locations, args.jobs)

    log("known-item queries")
    items = known_items(records, local_gov, args.queries, SEED)
    ranks = known_item_run(items, locations, args.jobs)

    raw: dict = {
        "meta": {
            "command": command,
            "machine": machine(),
            "date": dt.date.today().isoformat(),
            "code": code_version(),
            "format_key": format_key(),
            "n": args.n,
            "documents": len(records),
            "local_gov": len(local_gov),
        },
        "known_item": summarize_known_items(items, ranks),
        "differences": paired_differences(items, ranks),
        "acronyms": acronym_breakdown(items, ranks),
        "topical_ranked": ranked,
        "items": [[i.doc_id, i.form, i.query] for i in items],
        "ranks": ranks,
    }
    if not args.skip_alqac:
        log("ALQAC")
        raw["alqac"] = alqac_run(data, args.jobs)

    log("accent restoration")
    titles = restoration_titles(args.n, args.restore, indexed, data)
    texts = itertools.chain.from_iterable((t, b) for _, t, b in records)
    scores, model = evaluate(locations["bantin"], titles, texts)
    raw["restoration"] = {
        part: {
            key: {
                "accuracy": score.accuracy,
                "exact_rate": score.exact_rate,
                "titles": score.titles,
                "syllables": score.syllables,
            }
            for key, score in by_restorer.items()
        }
        for part, by_restorer in scores.items()
    }
    raw["restoration_model"] = model
    return raw


def restore_only(args: argparse.Namespace) -> None:
    """The restoration table alone, for an index of ``--n`` bulletins (only bantin's is built)."""
    data = require_data()
    WORK.mkdir(parents=True, exist_ok=True)
    corpus = corpus_file(args.n)
    records = read_corpus(corpus)
    index_dir = WORK / f"news-bantin-full-{records_key(records)}-{format_key()}"
    build_bantin(corpus, index_dir, "full", args.jobs)
    titles = restoration_titles(args.n, args.restore, {r[0] for r in records}, data)
    scores, _ = evaluate(index_dir, titles, [], prototype=False)
    print(f"{args.n:,} bulletins, {len(titles):,} held-out local-government titles")
    for key, label in RESTORERS.items():
        if key in scores["all"]:
            every, short = scores["all"][key], scores["short"][key]
            print(
                f"{label}: {100 * every.accuracy:.1f} % of syllables, "
                f"{100 * every.exact_rate:.1f} % exact; ≤ {SUGGESTION_LIMIT} syllables: "
                f"{100 * short.accuracy:.1f} % / {100 * short.exact_rate:.1f} %"
            )


if __name__ == "__main__":
    main()

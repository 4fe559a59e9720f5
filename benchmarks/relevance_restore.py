"""Accent restoration: titles of bulletins that are not in the index, typed without diacritics.

Systems compared, on the same syllables:

* **left unaccented** — the text as typed (right only where the word has no marks);
* **most frequent form** — each syllable's accented form held by the most bulletins of the index
  (``Vocabulary.accented_forms``, i.e. document frequency);
* **pyvi's ViDiac** — the character-level CRF diacritic restorer pyvi ships (no index);
* **bantin suggestion** — ``Searcher.search(typed).suggestion`` through the public API (no
  suggestion counts as the typed text). With the generation's language model
  (:mod:`searcher.lm`) it is made for queries of any length; an index without one keeps the
  vocabulary restorer, which makes none for more than twelve syllables;
* **Vocabulary.restore** — the same Viterbi on every title, whatever its length;
* **lm** / **lm_without_prior** / **lm_interpolated** — the model's decoding alone: as the
  product does it, without the dictionary prior (:mod:`searcher.lm_prior`), and with
  Jelinek–Mercer interpolation instead of stupid backoff;
* **prototype: syllable bigrams** (not in the product) — a Viterbi over each syllable's accented
  forms scored by a syllable-bigram language model counted from the indexed texts (every
  adjacent pair of syllables, across word boundaries), with absolute-discount interpolation
  with the unigram model. This is what a product change could gather at index time.

Run on its own (``python -m benchmarks.relevance_restore INDEX TITLES.json``) it scores the
suggestion, the old restorer and the baselines on held-out titles (a JSON list of strings) and
times opening the index, its first suggestion and every suggestion after that.

Accuracy compares canonical forms (lower case, one tone placement) of syllables that contain a
letter; a title is exact when all of its syllables are.
"""

from __future__ import annotations

import itertools
import math
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_SENTENCE_BREAK = re.compile(r"[.!?;:\n\"“”()\[\]…–—-]+")
_WORD = re.compile(r"[^\W_]+")


@dataclass
class Score:
    syllables: int = 0
    right: int = 0
    titles: int = 0
    exact: int = 0

    def add(self, predicted: list[str], reference: list[str]) -> None:
        pairs = [(p, r) for p, r in zip(predicted, reference, strict=True) if _has_letter(r)]
        right = sum(p == r for p, r in pairs)
        self.syllables += len(pairs)
        self.right += right
        self.titles += 1
        self.exact += right == len(pairs)

    @property
    def accuracy(self) -> float:
        return self.right / self.syllables if self.syllables else float("nan")

    @property
    def exact_rate(self) -> float:
        return self.exact / self.titles if self.titles else float("nan")


def _has_letter(word: str) -> bool:
    return any(c.isalpha() for c in word)


class BigramRestorer:
    """Syllable-bigram Viterbi restorer (prototype for a product improvement)."""

    DISCOUNT = 0.75

    def __init__(self, texts: Iterable[str], canonical: object) -> None:
        self.canonical = canonical
        self.unigrams: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            for piece in _SENTENCE_BREAK.split(text):
                words = [canonical(w) for w in _WORD.findall(piece)]  # type: ignore[operator]
                self.unigrams.update(words)
                self.bigrams.update(itertools.pairwise(words))
        self.total = sum(self.unigrams.values())
        self.forms: dict[str, list[str]] = defaultdict(list)
        for word, _count in self.unigrams.most_common():
            if word.isalpha():
                self.forms[_fold(word)].append(word)
        self.followers: Counter[str] = Counter(left for left, _ in self.bigrams)
        self.left_total: Counter[str] = Counter()
        for (left, _right), count in self.bigrams.items():
            self.left_total[left] += count

    def _unigram(self, word: str) -> float:
        return (self.unigrams[word] + 0.1) / (self.total + 0.1 * len(self.unigrams))

    def _log_p(self, left: str, word: str) -> float:
        total = self.left_total[left]
        if not total:
            return math.log(self._unigram(word))
        seen = max(self.bigrams[(left, word)] - self.DISCOUNT, 0.0) / total
        backoff = self.DISCOUNT * self.followers[left] / total
        return math.log(seen + backoff * self._unigram(word))

    def restore(self, folded: list[str]) -> list[str]:
        if not folded:
            return []
        options = [self.forms.get(word, [word])[:12] for word in folded]
        best = {form: (math.log(self._unigram(form)), [form]) for form in options[0]}
        for choices in options[1:]:
            step = {}
            for form in choices:
                step[form] = max(
                    (
                        (score + self._log_p(prev, form), path)
                        for prev, (score, path) in best.items()
                    ),
                    key=lambda item: item[0],
                )
                step[form] = (step[form][0], [*step[form][1], form])
            best = step
        return max(best.values(), key=lambda item: item[0])[1]


def _fold(text: str) -> str:
    text = text.lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


#: ``Searcher.search`` suggests nothing for queries of more than this many syllables.
SUGGESTION_LIMIT = 12
RESTORERS = (
    "unaccented",
    "most_frequent",
    "vidiac",
    "suggestion",
    "restore",
    "lm",
    "lm_without_prior",
    "lm_interpolated",
    "bigram_prototype",
)


def vidiac(typed: str) -> list[str]:
    """pyvi's CRF diacritic restorer (``ViDiac``, character-level) on a typed title, split as
    typed; a title it fails on (it raises on some letter sequences) counts as left unaccented."""
    from pyvi import ViDiac

    try:
        restored = ViDiac.add_accents(typed).split(" ")
    except KeyError:
        return typed.split(" ")
    return restored if len(restored) == len(typed.split(" ")) else typed.split(" ")


def evaluate(
    index_dir: object,
    titles: list[str],
    indexed_texts: Iterable[str],
    prototype: bool = True,
) -> tuple[dict[str, dict[str, Score]], dict[str, float]]:
    """Scores of every restorer on ``titles`` (titles of bulletins not in the index).

    Returns ``({"all": {restorer: Score}, "short": {...}}, bigram model sizes)``; "short" holds
    the titles of at most :data:`SUGGESTION_LIMIT` syllables, the only ones
    ``Results.suggestion`` can restore.
    """
    from searcher import Searcher
    from searcher.analysis import analyze, canonical_syllable, fold

    restorers = RESTORERS if prototype else RESTORERS[:-1]
    scores = {part: {key: Score() for key in restorers} for part in ("all", "short")}
    started = time.perf_counter()
    bigrams = BigramRestorer(indexed_texts if prototype else [], canonical_syllable)
    stats = {
        "seconds": time.perf_counter() - started,
        "tokens": bigrams.total,
        "syllables": len(bigrams.unigrams),
        "bigrams": len(bigrams.bigrams),
    }
    with Searcher(index_dir) as searcher:  # type: ignore[arg-type]
        vocabulary = searcher._current().vocabulary  # the product's own, as the search uses it
        model = searcher._current().language_model
        interpolated = alone = None
        if model is not None:  # the same counts, Jelinek–Mercer instead of stupid backoff
            interpolated = type(model)(model.counts)
            interpolated.smoothing = "interpolated"
            alone = type(model)(model.counts, use_prior=False)  # the index's counts alone
        for title in titles:
            reference = [t.text for t in analyze(title, segment=False) if t.kind == "syllable"]
            typed_words = [fold(w) for w in reference]
            suggestion = searcher.search(" ".join(typed_words), per_page=1).suggestion
            suggested = suggestion.split(" ") if suggestion else typed_words
            if len(suggested) != len(reference):  # a correction changed the word count
                suggested = (suggested + typed_words)[: len(reference)]
            predictions = {
                "unaccented": typed_words,
                "most_frequent": [
                    vocabulary.accented_forms[w][0][0] if w in vocabulary.accented_forms else w
                    for w in typed_words
                ],
                "suggestion": [canonical_syllable(w) for w in suggested],  # lower-cased
                "vidiac": [canonical_syllable(w) for w in vidiac(" ".join(typed_words))],
                "restore": vocabulary.restore(typed_words),
                "lm": [w.lower() for w in (model or vocabulary).restore(typed_words)],
                "lm_without_prior": [w.lower() for w in (alone or vocabulary).restore(typed_words)],
                "lm_interpolated": [
                    w.lower() for w in (interpolated or vocabulary).restore(typed_words)
                ],
            }
            if prototype:
                predictions["bigram_prototype"] = bigrams.restore(typed_words)
            parts = ["all", "short"] if len(reference) <= SUGGESTION_LIMIT else ["all"]
            for part in parts:
                for key, predicted in predictions.items():
                    scores[part][key].add(predicted, reference)
    return scores, stats


def timings(index_dir: object, titles: list[str]) -> dict[str, float]:
    """Seconds to open the index with and without its language model, the first suggestion
    of a generation, and the percentiles of a suggestion's decoding afterwards."""
    import statistics

    from searcher import Searcher
    from searcher.analysis import fold
    from searcher.lm import LanguageModel
    from searcher.lm_prior import DictionaryPrior, read_words

    found: dict[str, float] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    DictionaryPrior.from_words(read_words())  # once per process, on its first decoding
    found["prior_build_s"] = time.perf_counter() - started
    found["prior_build_cpu_s"] = time.process_time() - started_cpu
    with Searcher(index_dir) as searcher:  # type: ignore[arg-type]
        started = time.perf_counter()
        opened = searcher._current()
        found["open_s"] = time.perf_counter() - started
        model = opened.language_model
        assert model is not None, "index without a language model"
        started = time.perf_counter()
        model_again = LanguageModel.open(opened.generation.path)
        found["model_open_s"] = time.perf_counter() - started
        started = time.perf_counter()
        searcher.search(fold(titles[0]), per_page=1)
        found["first_search_s"] = time.perf_counter() - started
        assert model_again is not None
        started = time.perf_counter()
        model_again.decode(fold(titles[0]).split())
        found["first_decode_s"] = time.perf_counter() - started
        costs, cpu = [], []
        for title in titles:
            words = fold(title).split()
            model_again._decoded.clear()  # time the decoding, not the cache
            started, started_cpu = time.perf_counter(), time.process_time()
            model_again.decode(words)
            costs.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        for name, values in (("decode", costs), ("decode_cpu", cpu)):
            quantiles = statistics.quantiles(values, n=100)
            found[f"{name}_p50_ms"] = quantiles[49] * 1000
            found[f"{name}_p95_ms"] = quantiles[94] * 1000
            found[f"{name}_max_ms"] = max(values) * 1000
    return found


def main() -> None:
    """Score and time the suggestion on the held-out titles of a JSON file."""
    import json
    import sys
    from pathlib import Path

    index_dir, titles_file = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    titles = json.loads(Path(titles_file).read_text("utf-8"))[:limit]
    scores, _ = evaluate(index_dir, titles, [], prototype=False)
    report: dict[str, object] = {
        part: {
            key: {"syllables": s.accuracy, "exact": s.exact_rate, "titles": s.titles}
            for key, s in found.items()
        }
        for part, found in scores.items()
    }
    report["timings"] = timings(index_dir, titles)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

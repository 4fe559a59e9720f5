"""Spelling correction's Viterbi step (numpy, pair bonuses only where pairs exist) gives the
plain loop's answer, ties included."""

from __future__ import annotations

import math
import random

from searcher.suggest import EDIT_COST, PAIR_WEIGHT, Vocabulary


def _plain_correct(vocabulary: Vocabulary, folded_words: list[str]) -> list[str] | None:
    """The correction as a loop over every (previous, next) candidate pair."""
    options = []
    for word in folded_words:
        frequency = vocabulary._folded_frequency
        own = [(word, math.log1p(frequency(word)))] if vocabulary.knows(word) else []
        edits = [
            (candidate, math.log1p(frequency(candidate)) - EDIT_COST)
            for candidate in vocabulary._edits(word)
        ]
        options.append(own + edits or [(word, 0.0)])
    previous = {w: (s, [w]) for w, s in options[0]}
    for choices in options[1:]:
        current = {}
        for word, score in choices:
            best = max(
                (
                    (
                        prev_score
                        + score
                        + PAIR_WEIGHT
                        * math.log1p(vocabulary.folded_pairs.get((prev_word, word), 0)),
                        path,
                    )
                    for prev_word, (prev_score, path) in previous.items()
                ),
                key=lambda item: item[0],
            )
            current[word] = (best[0], [*best[1], word])
        previous = current
    corrected = max(previous.values(), key=lambda item: item[0])[1]
    return corrected if corrected != folded_words else None


def _vocabulary(rng: random.Random) -> Vocabulary:
    letters = "abcho"
    syllables = {
        "".join(rng.choice(letters) for _ in range(rng.randint(1, 3))): rng.choice([1, 2, 5, 40])
        for _ in range(120)
    }
    words = sorted(syllables)
    compounds = {
        f"{rng.choice(words)}_{rng.choice(words)}": rng.choice([1, 3, 3, 9]) for _ in range(150)
    }
    return Vocabulary(syllables, compounds)


def test_correct_matches_the_plain_viterbi_loop() -> None:
    rng = random.Random(5)
    checked = changed = 0
    for _ in range(8):
        vocabulary = _vocabulary(rng)
        for _ in range(40):
            query = [
                "".join(rng.choice("abchoz") for _ in range(rng.randint(1, 3)))
                for _ in range(rng.randint(1, 4))
            ]
            expected = _plain_correct(vocabulary, query)
            assert vocabulary.correct(query) == expected, query
            checked += 1
            changed += expected is not None
    assert checked == 320 and changed > 50  # the comparison covered real corrections

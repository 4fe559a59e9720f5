"""The language model of the index: suggestions, capitals, highlights, updates, old indexes."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from index import build_index, update_index
from searcher import Searcher, lm, lm_write
from searcher.analysis import canonical_syllable, fold
from searcher.lm import LM_DIR, Counts, LanguageModel
from searcher.lm_counts import syllable_hash
from searcher.lm_text import count_texts
from searcher.plan import highlight_patterns
from searcher.query import parse_query
from searcher.restore import meant_patterns
from searcher.storage import read_current

MARK = re.compile(r"<mark>(.*?)</mark>")


@pytest.fixture(scope="module")
def model(corpus_index: Path) -> LanguageModel:
    opened = LanguageModel.open(read_current(corpus_index).path)
    assert opened is not None, "the build writes the model beside the generation"
    return opened


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("phan van giap", "Phan Văn Giáp"),
        ("sa dec", "Sa Đéc"),
        ("thanh pho sa dec", "thành phố Sa Đéc"),
        ("ong nguyen van hon chu tri", "ông Nguyễn Văn Hon chủ trì"),
    ],
)
def test_names_come_back_capitalised(searcher: Searcher, typed: str, suggested: str) -> None:
    assert searcher.search(typed).suggestion == suggested


def test_a_syllable_typed_with_accents_is_kept(model: LanguageModel) -> None:
    # "số kết" is unlikely next to "hội nghị", but it was typed: it stays.
    assert model.decode(["hội", "nghị", "số", "kết"]).words == ["hội", "nghị", "số", "kết"]
    assert model.decode(["hoi", "nghi", "so", "ket"]).words == ["hội", "nghị", "sơ", "kết"]


def test_a_correction_keeps_the_syllables_typed_right(searcher: Searcher) -> None:
    results = searcher.search("cải cách hanh chnh")
    assert results.total == 0 or results.partial
    assert results.suggestion == "cải cách hành chính"


def test_a_long_query_gets_a_suggestion(searcher: Searcher) -> None:
    typed = "hoi nghi so ket cong tac cai cach hanh chinh 6 thang dau nam thanh pho sa dec va de"
    assert len(typed.split()) == 20
    suggestion = searcher.search(typed).suggestion
    assert suggestion is not None and len(suggestion.split()) == 20
    assert suggestion.startswith("hội nghị sơ kết công tác cải cách hành chính 6 tháng đầu năm")
    assert "Sa Đéc" in suggestion


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("bao dong", "báo động"), ("bien ban", "biên bản"), ("ban quyen", "bản quyền")],
)
def test_the_dictionary_restores_pairs_the_bulletins_lack(
    model: LanguageModel, typed: str, meant: str
) -> None:
    # Five bulletins hold each syllable but not the pair: the index alone picks each
    # syllable's most frequent form; the pair inside a dictionary word decides.
    alone = LanguageModel(model.counts, use_prior=False)
    assert [w.lower() for w in alone.decode(typed.split()).words] != meant.split()
    assert [w.lower() for w in model.decode(typed.split()).words] == meant.split()


def test_an_index_that_has_seen_a_pair_prefers_it_to_the_dictionary() -> None:
    known = ["báo chí", "hoạt động", "bảo vệ", "đồng ý"] * 5
    thin = LanguageModel(count_texts([*known, "bảo đồng"]))
    assert thin.decode(["bao", "dong"]).words == ["báo", "động"]  # one occurrence: words win
    seen = LanguageModel(count_texts([*known, *["bảo đồng"] * 40]))
    assert seen.decode(["bao", "dong"]).words == ["bảo", "đồng"]  # forty: the index wins


def test_a_correction_leaves_syllables_the_bulletins_pair(model: LanguageModel) -> None:
    # "chuyên viên" is in the bulletins, so both syllables were typed as meant, though the
    # one-edit neighbour "chuyển biến" scores higher; "hành chín" is in none: "chin" is fixed.
    assert model.correct(["chuyen", "vien"]) is None
    assert model.correct(["hanh", "chin"]) == ["hanh", "chinh"]


@pytest.mark.parametrize(
    "typed",
    [
        "hoi nghi so ket",
        "ong nguyen van hon chu tri hoi nghi",
        "cai cach hanh chinh thanh pho sa dec nam 2021",
        "so",
        "xyzzy hoi nghi",
    ],
)
def test_the_exact_decoding_finds_what_a_beam_keeping_every_state_finds(
    model: LanguageModel, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    words = typed.split()
    best, margins = model._viterbi([model._choices(w, False) for w in words])
    monkeypatch.setattr(lm, "BEAM", 1_000_000)
    beam = model._search(words, False)
    assert best == beam[0][1]
    # The last syllable's rival is the best final state that ends otherwise.
    rivals = [score for score, path in beam if path[-1] != best[-1]]
    expected = beam[0][0] - rivals[0] if rivals else np.inf
    assert margins[-1] == pytest.approx(expected)


def _marked(html: str) -> list[str]:
    return MARK.findall(html)


def test_highlights_follow_the_restored_meaning(searcher: Searcher) -> None:
    doc = searcher.doc("001_43642a5dc4415f17")
    assert doc is not None and "tổng số" in doc.body and "hồ sơ" in doc.body
    page = searcher.highlight(doc.body, "hoi nghi so ket")
    marked = {fold(m.lower()) for m in _marked(page)}
    assert "so ket" in marked or "hoi nghi so ket" in marked
    assert marked <= {"hoi nghi", "so ket", "hoi nghi so ket", "hoi"}, marked
    assert not any(m in ("số", "sổ", "sơ") for m in _marked(page))
    hit = next(h for h in searcher.search("hoi nghi so ket").hits if h.id == doc.id)
    allowed = {"hoi nghi", "so ket", "hoi nghi so ket", "hoi"}  # "hội": cut at the snippet's end
    for html in (hit.title_html, hit.snippet):
        assert "sơ kết" in html
        assert {fold(m.lower()) for m in _marked(html)} <= allowed, html


def test_an_accented_query_marks_its_own_words(searcher: Searcher) -> None:
    doc = searcher.doc("001_43642a5dc4415f17")
    assert doc is not None
    marked = {m.lower() for m in _marked(searcher.highlight(doc.body, "số"))}
    assert marked == {"số"}


def test_without_confidence_highlights_stay_folded(model: LanguageModel) -> None:
    parsed = parse_query("so")
    assert not model.decode(["so"]).confident  # "số", "sở", "sơ", "sổ": no context to choose
    assert meant_patterns(parsed, model, lambda field, term: False) == highlight_patterns(parsed)
    assert meant_patterns(parsed, None, lambda field, term: False) == highlight_patterns(parsed)


def test_completion_ranks_by_the_model(searcher: Searcher) -> None:
    assert searcher.complete("cai c")[0] == "cải cách"
    assert searcher.complete("thanh pho sa d")[0] == "thành phố Sa Đéc"


def test_an_index_without_the_model_still_suggests(corpus_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old-index"
    shutil.copytree(corpus_index, copy, symlinks=True)
    generation = read_current(copy).path
    shutil.rmtree(generation / LM_DIR)
    (generation / "manifest.json").unlink()  # indexes from before the model had no manifest
    with Searcher(copy) as old:
        assert old._current().language_model is None
        assert old.search("cai cach hanh chinh").suggestion == "cải cách hành chính"
        assert "cải cách" in old.complete("cai c")


def _counts(index_dir: Path) -> Counts:
    """The counts the searcher decodes with: the model plus the delta of later updates."""
    opened = LanguageModel.open(read_current(index_dir).path)
    assert opened is not None
    return opened.counts.summed()


def _assert_same(left: Counts, right: Counts) -> None:
    assert left.syllables == right.syllables
    for name in ("unigrams", "bigram_keys", "bigrams", "trigram_keys", "trigrams"):
        np.testing.assert_array_equal(getattr(left, name), getattr(right, name), err_msg=name)


def test_an_update_gives_the_model_of_a_rebuild(write_jsonl, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = [
        {"id": "a", "title": "Hội nghị sơ kết", "body": "Ông Phan Văn Giáp chủ trì hội nghị."},
        {"id": "b", "title": "Thành phố Sa Đéc", "body": "Sa Đéc cải cách hành chính."},
        {"id": "c", "title": "Hồ sơ một cửa", "body": "Tổng số hồ sơ tiếp nhận là 2264."},
    ]
    source = write_jsonl(records)
    updated = tmp_path / "updated"
    build_index([source], updated)
    records[0]["body"] = "Ông Nguyễn Văn Hon chủ trì hội nghị sơ kết."  # changed
    del records[1]  # removed
    records.append({"id": "d", "title": "Cam kết", "body": "Ký bản cam kết cải cách."})  # added
    write_jsonl(records)
    report = update_index([source], updated)
    assert (report.added, report.removed) == (1, 1)
    rebuilt = tmp_path / "rebuilt"
    build_index([source], rebuilt)
    _assert_same(_counts(updated), _counts(rebuilt))
    with Searcher(updated) as searcher:
        assert searcher.search("nguyen van hon").suggestion == "Nguyễn Văn Hon"
        assert searcher.search("sa dec").suggestion != "Sa Đéc"  # its only bulletin is gone


@pytest.mark.parametrize("fold", ["never", "always"])
def test_updates_write_a_delta_and_share_the_model(  # type: ignore[no-untyped-def]
    fold: str, write_jsonl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each update leaves the model as a rebuild would count it; without a fold the model's
    files stay hard-linked to the previous generation's and only a delta is written."""
    monkeypatch.setattr(lm_write, "FOLD_FRACTION", float("inf") if fold == "never" else 0.0)
    records = [
        {"id": f"r{i}", "title": f"Hội nghị sơ kết lần {i}", "body": f"Ông Phan Văn Giáp {i}."}
        for i in range(6)
    ]
    source = write_jsonl(records)
    updated = tmp_path / "updated"
    build_index([source], updated)
    edits = [
        lambda: records.append({"id": "sa", "title": "Thành phố Sa Đéc", "body": "Về Sa Đéc."}),
        lambda: records.__setitem__(0, {**records[0], "body": "Ông Nguyễn Văn Hon chủ trì."}),
        lambda: records.pop(1),
        lambda: records.append({"id": "ck", "title": "Cam kết", "body": "Ký bản cam kết."}),
        lambda: records.pop(),  # removes the bulletin the update before added
    ]
    for step, edit in enumerate(edits):
        before = read_current(updated).path / LM_DIR
        edit()
        write_jsonl(records)
        update_index([source], updated)
        rebuilt = tmp_path / f"rebuilt-{step}"
        build_index([source], rebuilt)
        _assert_same(_counts(updated), _counts(rebuilt))
        after = read_current(updated).path / LM_DIR
        shared = (before / "model" / "trigrams.npy").stat().st_ino == (
            after / "model" / "trigrams.npy"
        ).stat().st_ino
        assert shared == (fold == "never"), step
        assert (after / "delta").exists() == (fold == "never"), step
    with Searcher(updated) as searcher:
        assert searcher.search("nguyen van hon").suggestion == "Nguyễn Văn Hon"
        assert searcher.search("sa dec").suggestion == "Sa Đéc"


def test_a_delta_for_another_model_is_not_used(corpus_index: Path, tmp_path: Path) -> None:
    """A delta must match the model it was written against, or the sum would be wrong."""
    copy = tmp_path / "index"
    shutil.copytree(corpus_index, copy, symlinks=True)
    root = read_current(copy).path / LM_DIR
    Counts.empty().save(root / "delta", {"segments": {}, "base": "another model"})
    assert LanguageModel.open(read_current(copy).path) is None


def test_counts_add_and_subtract_exactly() -> None:
    first = count_texts(["Hội nghị sơ kết. Phan Văn Giáp"])
    second = count_texts(["hội nghị tổng kết"])
    both = count_texts(["Hội nghị sơ kết. Phan Văn Giáp", "hội nghị tổng kết"])
    _assert_same(Counts.summed([(first, 1), (second, 1)]), both)
    _assert_same(Counts.summed([(both, 1), (second, -1)]), first)
    # a capital at a sentence's start is no evidence of a name; one inside a sentence is
    assert both.unigrams[both.syllables.index("hội")].tolist() == [2, 0, 0]
    assert both.unigrams[both.syllables.index("văn")].tolist() == [1, 1, 0]


def _reference_counts(texts: list[str]) -> dict[str, Counter]:
    """The counts as the model defines them, one token at a time with Python integers."""
    mask = (1 << 64) - 1
    found: dict[str, Counter] = {name: Counter() for name in ("all", "Title", "UPPER", "pairs")}
    found.update(titled=Counter(), triples=Counter())
    for text in texts:
        for piece in re.split(r"[.!?;:\n\"“”()\[\]…–—\-]+", text):
            words = re.findall(r"[^\W\d_]+", piece)
            ids = [canonical_syllable(w) for w in words]
            hashes = [syllable_hash(s) for s in ids]
            # the first word of a run (a sentence, a caption) is not counted as Capitalised
            is_title = [
                i > 0 and w[0].isupper() and not (len(w) > 1 and w.isupper())
                for i, w in enumerate(words)
            ]
            for i, (word, syllable) in enumerate(zip(words, ids, strict=True)):
                found["all"][syllable] += 1
                if len(word) > 1 and word.isupper():
                    found["UPPER"][syllable] += 1
                elif i > 0 and word[0].isupper():
                    found["Title"][syllable] += 1
            for i in range(len(words) - 1):
                pair = (hashes[i] * 0x9E3779B97F4A7C15 + hashes[i + 1]) & mask
                found["pairs"][pair] += 1
                if is_title[i] and is_title[i + 1]:
                    found["titled"][pair] += 1
                if i + 2 < len(words):
                    found["triples"][(pair * 0x9E3779B97F4A7C15 + hashes[i + 2]) & mask] += 1
    return found


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [""],
        ["... 2024 –"],
        ["A"],
        ["Hội nghị sơ kết. Phan Văn Giáp", "hội nghị tổng kết"],
        ["HÀ NỘI, 6 tháng: x² y_z 12abc", "Ông Nguyễn Văn Hon (chủ trì) -- hội nghị"],
        ["Thành phố Sa Đéc cải cách hành chính\n\nSa Đéc", "sa đéc", "THÀNH PHỐ Sa Đéc"],
        ["hoà hòa Hoà HOÀ", "a b c", "a b", "b c d a b c"],
    ],
)
def test_counting_equals_counting_one_token_at_a_time(texts: list[str]) -> None:
    counts = count_texts(texts)
    expected = _reference_counts(texts)
    assert counts.syllables == sorted(expected["all"])
    for column, name in enumerate(("all", "Title", "UPPER")):
        assert dict(zip(counts.syllables, counts.unigrams[:, column].tolist(), strict=True)) == {
            s: expected[name][s] for s in counts.syllables
        }
    assert counts.bigram_keys.tolist() == sorted(expected["pairs"])
    assert counts.bigrams.tolist() == [
        [expected["pairs"][k], expected["titled"][k]] for k in sorted(expected["pairs"])
    ]
    assert counts.trigram_keys.tolist() == sorted(expected["triples"])
    assert counts.trigrams.tolist() == [expected["triples"][k] for k in sorted(expected["triples"])]
    for name in ("unigrams", "bigrams", "trigrams"):
        assert getattr(counts, name).dtype == np.int64
    for name in ("bigram_keys", "trigram_keys"):
        assert getattr(counts, name).dtype == np.uint64

"""Vietnamese analysis: one test per rule, and property tests of its invariants."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from corpus import corpus_files
from index.readers import read_file
from searcher import analysis
from searcher.analysis import (
    PresegmentedText,
    VietnameseAnalyzer,
    analyze,
    default_segmenter,
    index_terms,
    normalize_query_text,
)
from searcher.text import (
    canonical_syllable,
    fold,
    has_diacritics,
    lower_same_length,
    nfc_with_offsets,
    segmenter_input,
    to_segmenter_style,
)


def terms(text: str, kind: str | None = None) -> list[str]:
    return [t.text for t in analyze(text) if kind is None or t.kind == kind]


def test_importing_searcher_does_not_load_pyvi() -> None:
    code = "import sys, searcher; print('pyvi.ViTokenizer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- 1. Unicode -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKD"])
def test_normalization_forms_give_the_same_terms(form: str) -> None:
    text = "Ủy ban nhân dân thành phố Sa Đéc tổ chức hội nghị"
    assert terms(unicodedata.normalize(form, text)) == terms(text)


def test_offsets_point_into_decomposed_text() -> None:
    text = unicodedata.normalize("NFD", "Cải cách hành chính")
    for token in analyze(text):
        source = unicodedata.normalize("NFC", text[token.startchar : token.endchar])
        assert fold(source).replace(" ", "_") == fold(token.text)


def test_nfc_offset_map_of_mixed_text() -> None:
    text = "Ha\u0300 No\u0323i và Hà Nội"
    nfc, starts = nfc_with_offsets(text)
    assert nfc == unicodedata.normalize("NFC", text)
    assert len(starts) == len(nfc) + 1
    assert text[starts[0] : starts[2]] == "Ha\u0300"


# --- 2. Tone placement --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old_or_new", "canonical"),
    [
        ("hoà", "hòa"),
        ("hòa", "hòa"),
        ("Uỷ", "ủy"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("hoá", "hóa"),
        ("loè", "lòe"),
        ("quý", "quý"),  # qu: the u belongs to the consonant
        ("quả", "quả"),
        ("giữa", "giữa"),  # gi: the i belongs to the consonant
        ("gì", "gì"),
        ("hoàng", "hoàng"),  # a final consonant keeps the tone on the last vowel
        ("thuyền", "thuyền"),
        ("người", "người"),
        ("ngoài", "ngoài"),
        ("TOÀ", "tòa"),
    ],
)
def test_tone_placement_is_canonical(old_or_new: str, canonical: str) -> None:
    assert canonical_syllable(old_or_new) == canonical


def test_old_and_new_tone_styles_are_one_term() -> None:
    assert terms("Uỷ ban hoà giải thuỷ lợi khoẻ mạnh") == terms(
        "Ủy ban hòa giải thủy lợi khỏe mạnh"
    )


def test_non_vietnamese_words_are_only_lowercased() -> None:
    assert canonical_syllable("Résumé") == "résumé"
    assert canonical_syllable("ISO") == "iso"


# --- 3 & 4. Case and folding --------------------------------------------------------------


def test_case_is_lowered_including_d_stroke() -> None:
    assert terms("ĐỒNG THÁP", "syllable") == ["đồng", "tháp"]


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Cải cách hành chính", "cai cach hanh chinh"), ("Đắk Lắk", "dak lak"), ("Ủy", "uy")],
)
def test_folding(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["ĐỒNG THÁP", "İstanbul Đà Nẵng", "ǅ", ""])
def test_lower_same_length_keeps_every_offset(text: str) -> None:
    low = lower_same_length(text)
    assert len(low) == len(text)
    assert low == "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    assert lower_same_length("ĐỒNG THÁP") == "đồng tháp"


def test_has_diacritics() -> None:
    assert has_diacritics("cải cách")
    assert has_diacritics("đa")
    assert not has_diacritics("cai cach")


def test_folded_analyzer_emits_unaccented_terms() -> None:
    analyzer = VietnameseAnalyzer(folded=True)
    assert [t.text for t in analyzer("Thủ tục hành chính")][:2] == ["thu", "thu_tuc"]


# --- 5. Segmentation ----------------------------------------------------------------------


def test_compounds_are_extra_tokens_at_their_first_syllable() -> None:
    tokens = analyze("Cải cách hành chính")
    syllables = [t for t in tokens if t.kind == "syllable"]
    compounds = [t for t in tokens if t.kind == "compound"]
    assert [t.text for t in syllables] == ["cải", "cách", "hành", "chính"]
    assert [(t.text, t.position) for t in compounds] == [("cải_cách", 0), ("hành_chính", 2)]


def test_one_letter_syllables_are_kept() -> None:
    assert terms("An Giang, y tế ở xã", "syllable") == ["an", "giang", "y", "tế", "ở", "xã"]


def test_very_long_text_still_gets_syllable_tokens() -> None:
    text = "cải cách " * 5000
    assert len([t for t in analyze(text) if t.kind == "syllable"]) == 10000


# --- 7. Numbers, dates and document numbers ---------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["2021", "05/7/2022", "1822/QĐ-UBND", "313/QĐ-UBND-HC", "61/2018/NĐ-CP", "9001:2015", "1.512"],
)
def test_numbers_and_document_numbers_stay_findable(written: str) -> None:
    text = f"Theo văn bản {written} ngày hôm qua"
    found = terms(text)
    assert canonical_syllable(written) in found or written.lower() in found


def test_abbreviation_with_dot_is_one_token_too() -> None:
    assert "tp.hcm" in terms("Tại TP.HCM hôm nay")


# --- Properties ---------------------------------------------------------------------------

_INITIALS = [
    "b",
    "c",
    "ch",
    "d",
    "đ",
    "g",
    "gh",
    "gi",
    "h",
    "k",
    "kh",
    "l",
    "m",
    "n",
    "ng",
    "nh",
    "p",
    "ph",
    "qu",
    "r",
    "s",
    "t",
    "th",
    "tr",
    "v",
    "x",
    "",
]
_NUCLEI = "a ă â e ê i o ô ơ u ư y oa oe uy ai ao au ay ia iê uô ươ ưa ua oi ôi ơi ui uyê oai ươi"
_FINALS = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"]
_TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]


@st.composite
def syllable(draw: st.DrawFn) -> str:
    """A Vietnamese-shaped syllable, its tone on any vowel of the nucleus, in any case."""
    nucleus = draw(st.sampled_from(_NUCLEI.split()))
    where = draw(st.integers(0, len(nucleus) - 1))
    toned = nucleus[: where + 1] + draw(st.sampled_from(_TONES)) + nucleus[where + 1 :]
    word = draw(st.sampled_from(_INITIALS)) + toned + draw(st.sampled_from(_FINALS))
    word = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), word)
    return draw(st.sampled_from([word, word.upper(), word.title()]))


_punctuation = st.sampled_from([" ", ", ", ". ", "\n", "-", "/", "2022", "UBND", "ab\u0300c"])
vietnamese_text = st.lists(
    st.one_of(syllable(), _punctuation).flatmap(lambda s: st.just(s + " ")),
    max_size=30,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(vietnamese_text)
def test_offsets_slice_the_original_text(text: str) -> None:
    for token in analyze(text):
        source = text[token.startchar : token.endchar]
        nfc = unicodedata.normalize("NFC", source)
        if token.kind == "syllable":
            assert canonical_syllable(nfc) == token.text
        else:
            assert fold(token.text).replace("_", "") in fold(nfc).replace(" ", "")


@settings(max_examples=60, deadline=None)
@given(vietnamese_text)
def test_tokens_are_the_same_under_nfc_and_nfd(text: str) -> None:
    nfc = unicodedata.normalize("NFC", text)
    nfd = unicodedata.normalize("NFD", text)
    assert [t.text for t in analyze(nfd)] == [t.text for t in analyze(nfc)]


@settings(max_examples=60, deadline=None)
@given(vietnamese_text)
def test_folded_tokens_hold_no_marks_or_d_stroke(text: str) -> None:
    for token in VietnameseAnalyzer(folded=True)(text):
        assert "đ" not in token.text and "Đ" not in token.text
        assert not any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", token.text))


@settings(max_examples=60, deadline=None)
@given(st.lists(syllable(), min_size=1, max_size=8))
def test_tone_placement_variants_give_the_same_tokens(words: list[str]) -> None:
    text = " ".join(words)
    moved = " ".join(_move_tone_to_first_vowel(w) for w in words)
    assert [canonical_syllable(w) for w in terms(text, "syllable")] == terms(moved, "syllable")


def _move_tone_to_first_vowel(word: str) -> str:
    """Write a syllable with its tone mark on another vowel (old/new style variation)."""
    decomposed = unicodedata.normalize("NFD", word)
    tone = next((c for c in decomposed if c in "\u0300\u0301\u0303\u0309\u0323"), "")
    if not tone:
        return word
    bare = decomposed.replace(tone, "")
    vowels = [i for i, c in enumerate(bare) if c.lower() in "aeiouy"]
    if not vowels:
        return word
    i = vowels[-1] + 1
    while i < len(bare) and unicodedata.combining(bare[i]):
        i += 1
    return unicodedata.normalize("NFC", bare[:i] + tone + bare[i:])


# --- The column-wise analysis against the token-by-token one it replaced -----------------------


def _reference_analyze(text: str, segmentation: Any = None, segment: bool = True) -> list[tuple]:
    """The analysis as first written (a token object at a time, then one sort), kept as the
    oracle of the faster column-wise implementation."""
    if not text:
        return []
    nfc, starts = nfc_with_offsets(text)
    if segmentation is None and segment:
        segmentation = default_segmenter().segment(to_segmenter_style(nfc))
    spans = []
    for start, end in segmentation.syllables if segment else [(0, len(nfc))]:
        for match in analysis._WORD_CHARS.finditer(nfc, start, end):
            stop = match.end()
            while stop < len(nfc) and unicodedata.combining(nfc[stop]):
                stop += 1
            spans.append((match.start(), stop))
    tokens = []
    words = []
    for position, (start, end) in enumerate(spans):
        words.append(canonical_syllable(nfc[start:end]))
        tokens.append((words[-1], position, starts[start], starts[end], "syllable", 1))
    for position, (start, end) in enumerate(spans):
        if number := analysis.canonical_number(words[position]):
            tokens.append((number, position, starts[start], starts[end], "number", 1))

    def covered(start: int, end: int) -> tuple[int, int]:
        first, last = analysis._covered_positions(spans, start, end)
        return (0, -1) if first is None or last is None else (first, last)

    for start, end, is_compound in segmentation.words if segment else []:
        first, last = covered(start, end)
        if is_compound and last > first:
            text_ = "_".join(words[first : last + 1])
            span = (starts[spans[first][0]], starts[spans[last][1]])
            tokens.append((text_, first, *span, "compound", last - first + 1))
    for match in analysis._PROTECTED.finditer(nfc):
        first, last = covered(*match.span())
        if last > first:
            protected = normalize_query_text(match.group(0))
            span = (starts[match.start()], starts[match.end()])
            tokens.append((protected, first, *span, "protected", last - first + 1))
            if date := analysis.canonical_date(protected):
                tokens.append((date, first, *span, "number", last - first + 1))
    tokens.sort(key=lambda t: (t[1], t[4] != "syllable", t[5]))
    return tokens


_mixed = st.sampled_from(
    ["TP.HCM", "05/7/2022", "1822/QĐ-UBND", "9001:2015", "1.512,5", "x̃", "06", "7.5", "1,500,000"]
)
mixed_text = st.lists(
    st.one_of(syllable(), _punctuation, _mixed).flatmap(lambda s: st.just(s + " ")),
    max_size=40,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(mixed_text, st.booleans())
@example("các cơ sở giáo dục. D.T", True)  # a compound and a protected form at one position
def test_analysis_matches_the_token_by_token_reference(text: str, segment: bool) -> None:
    assert [tuple(t) for t in analyze(text, segment=segment)] == _reference_analyze(
        text, segment=segment
    )


def test_index_terms_match_the_reference_on_the_shipped_bulletins() -> None:
    texts = [
        text
        for path in corpus_files()
        for bulletin in read_file(path)
        for text in (bulletin.title, bulletin.body)
    ]
    assert len(texts) == 10
    for text in texts:
        expected = _reference_analyze(text)
        segmentation = default_segmenter().segment(segmenter_input(text))
        terms_ = index_terms(PresegmentedText(text, segmentation))
        assert list(terms_.accented) == [t[0] for t in expected]
        assert list(terms_.folded) == [fold(t[0]) for t in expected]
        assert list(terms_.positions) == [t[1] for t in expected]
        assert list(zip(terms_.startchars, terms_.endchars, strict=True)) == [
            (t[2], t[3]) for t in expected
        ]

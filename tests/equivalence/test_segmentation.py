"""Segmenter against pyvi itself: identical output, and spans that slice the text as given."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searcher.segmentation import Segmentation, Segmenter
from searcher.segmentation.model import Model, crfsuite_bytes, pyvi_dir, read_crfsuite, shared_model
from searcher.segmentation.syllables import syllabize
from searcher.segmentation.tagging import Layout, viterbi_numpy, viterbi_python

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

EDGE_CASES = [
    "",
    " ",
    "   \t  ",
    "\n",
    "\n\n  \n",
    "\t\tUBND  tỉnh\tĐồng Tháp\r\nban hành",
    "Nghị định 61/2018/NĐ-CP ngày 23/4/2018 của Chính phủ",
    "Quyết định số 1822/QĐ-UBND về việc công bố thủ tục hành chính",
    "TP.HCM và TP. Hồ Chí Minh, Tp. Hồ Chí Minh, tp.Cần Thơ",
    "Mr. Nam, Mrs. Lan, Ms. Hoa, Dr. Minh, ThS. Trần Văn An",
    "Xem https://dongthap.gov.vn/tin-tuc?id=12&x=1 hoặc http://a.b/c.",
    "Liên hệ: so.tttt@dongthap.gov.vn, hotro+1@mail.example.com.",
    "Tổng thu 1.512 tỷ đồng, tăng 3,5% so với 2020; 1,234,567.89 và 10_000",
    "biến_số snake_case __init__ _ __ a_b_c",
    "VIỆT NAM việt nam Việt Nam vIỆT nAM ViỆt NaM",
    "Chào!!! Sao??? ... .... ==> -> >> <<< --- ,,, ;; (( )) [[]] “trích dẫn” – … «»",
    "==>==>->->>>>>......",
    "a\u0301b\u0323 e\u0302\u0301 xin chào",
    "Hà Nội\u00a0Hải Phòng\u2003Đà Nẵng",
    "Σ ΑΣ Ωmega İstanbul ﬁnal ½ ² ٣ 中文 한국어 👍🏽 Hà Nội 🇻🇳 𝔘𝔅𝔑𝔇",
    "abc\x00def Hà\x00 Nội http://x\x00y.vn/a ủy ban nhân dân\x00 tỉnh",
    "UBND. ĐT. Tp.Hà Nội Mr.X ThS.BS A.B.C. 1.2.3 a.b@c.d e@f -> ->> ...... ==>=",
    "x",
    ".",
    "_",
    "1",
]


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _long_line() -> str:
    base = (
        "Ủy ban nhân dân thành phố Cao Lãnh tổ chức Hội nghị triển khai nhiệm vụ nâng cao "
        "chất lượng công tác cải cách hành chính (CCHC) năm 2021, đạt 98,5% kế hoạch; "
    )
    return (base * (20_000 // len(base) + 1))[:20_000]


def _sample() -> list[str]:
    texts = list(EDGE_CASES)
    texts += [_nfd(t) for t in EDGE_CASES if _nfd(t) != t]
    for path in sorted(CORPUS.glob("*.txt")):
        whole = path.read_text(encoding="utf-8")
        texts.append(whole)
        texts += whole.split("\n")
    texts.append(_long_line())
    texts.append(_nfd(_long_line()[:3000]))
    return texts


@pytest.fixture(scope="session")
def pyvi_tokenize() -> Callable[[str], str]:
    from pyvi import ViTokenizer

    return ViTokenizer.tokenize


@pytest.fixture(scope="session")
def pyvi_syllables() -> Callable[[str], list[str]]:
    from pyvi import ViTokenizer

    return lambda text: ViTokenizer.ViTokenizer.sylabelize(text)[1]


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    return Segmenter()


def test_import_is_cheap() -> None:
    code = (
        "import sys, searcher.segmentation\n"
        "heavy = [m for m in ('pyvi.ViTokenizer', 'sklearn', 'sklearn_crfsuite', 'pycrfsuite')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tokenize_matches_pyvi_on_sample(segmenter: Segmenter, pyvi_tokenize) -> None:
    texts = _sample()
    expected = [pyvi_tokenize(t) for t in texts]
    got = segmenter.tokenize_many(texts)
    diffs = [
        (t[:60], e[:120], g[:120]) for t, e, g in zip(texts, expected, got, strict=True) if e != g
    ]
    assert not diffs
    # One at a time too: batching must not change anything.
    for text, exp in zip(texts[:40], expected[:40], strict=True):
        assert segmenter.tokenize(text) == exp


@pytest.mark.parametrize("text", ["", " ", "\t \t", "  \n  "])
def test_blank_input(segmenter: Segmenter, pyvi_tokenize, text: str) -> None:
    assert segmenter.tokenize(text) == pyvi_tokenize(text)
    seg = segmenter.segment(text)
    assert [text[a:b] for a, b in seg.syllables] == (["\n"] if "\n" in text else [])


def test_known_spans(segmenter: Segmenter) -> None:
    text = "Ủy ban  nhân dân\tTP.HCM"
    assert segmenter.tokenize(text) == "Ủy_ban nhân_dân TP. HCM"
    assert segmenter.words(text) == [(0, 6, True), (8, 16, True), (17, 20, False), (20, 23, False)]
    nfd = _nfd(text)
    assert [nfd[a:b] for a, b, _ in segmenter.words(nfd)] == [
        _nfd("Ủy ban"),
        _nfd("nhân dân"),
        "TP.",
        "HCM",
    ]


def test_threads_agree(segmenter: Segmenter) -> None:
    texts = [t for t in _sample() if t][:200]
    expected = segmenter.segment_many(texts)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(segmenter.segment, texts))
    assert results == expected


def _check_spans(text: str, seg: Segmentation, tokenized: str, pyvi_syllables: list[str]) -> None:
    nfc = unicodedata.normalize("NFC", text)
    syllables = [unicodedata.normalize("NFC", text[a:b]) for a, b in seg.syllables]
    assert syllables == pyvi_syllables
    # Spans are ordered, disjoint, and only whitespace lies between them.
    ends = [0] + [b for _, b in seg.syllables]
    starts = [a for a, _ in seg.syllables] + [len(text)]
    for gap_start, gap_end in zip(ends, starts, strict=True):
        assert gap_start <= gap_end
        assert text[gap_start:gap_end].strip() == "" or not nfc.strip()
    if not seg.syllables:
        assert seg.words == []
        return
    # Each word covers whole syllables; its unit in pyvi's output is those syllables glued
    # with '_' (syllables may hold '_' themselves, so compare glued forms, never split).
    units = tokenized.split(" ")
    assert len(units) == len(seg.words)
    k = 0
    for (start, end, compound), unit in zip(seg.words, units, strict=True):
        inside = []
        while k < len(seg.syllables) and seg.syllables[k][1] <= end:
            assert seg.syllables[k][0] >= start
            inside.append(unicodedata.normalize("NFC", text[slice(*seg.syllables[k])]))
            k += 1
        assert inside and seg.syllables[k - len(inside)][0] == start
        assert "_".join(inside) == unit
        assert compound == (len(inside) > 1)
    assert k == len(seg.syllables)


_SYLLABLE_TEXT = (
    "ủy ban nhân dân thành phố cao lãnh tổ chức hội nghị triển khai nhiệm vụ nâng "
    "chất lượng công tác cải cách hành chính năm trên địa bàn cho trưởng các phòng "
    "chuyên môn và phụ trách của xã phường tỉnh đồng tháp quyết định nghị việt nam "
    "người dân doanh nghiệp kinh tế xã hội giáo dục y tế an ninh quốc phòng thủ tục"
)
_SYLLABLES = _SYLLABLE_TEXT.split()
_PIECES = st.one_of(
    st.sampled_from(_SYLLABLES),
    st.sampled_from(_SYLLABLES).map(str.title),
    st.sampled_from(_SYLLABLES).map(str.upper),
    st.sampled_from(
        ["UBND", "CCHC", "TP.", "Tp.", "61/2018/NĐ-CP", "1.512", "3,5", "a_b", "==>", "...", "–"]
    ),
    st.text(
        alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵĐ0123456789_.,:;/-()!?\"'",
        min_size=1,
        max_size=6,
    ),
)
_SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\n", "\t", "", ", ", ". ", " \n "])
_TEXTS = st.lists(st.tuples(_PIECES, _SEPARATORS), max_size=30).map(
    lambda parts: "".join(p + s for p, s in parts)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, decompose=st.booleans())
def test_spans_slice_text_as_given(
    segmenter: Segmenter, pyvi_tokenize, pyvi_syllables, text: str, decompose: bool
) -> None:
    if decompose:
        text = _nfd(text)
    tokenized = segmenter.tokenize(text)
    assert tokenized == pyvi_tokenize(text)
    _check_spans(text, segmenter.segment(text), tokenized, pyvi_syllables(text))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(_TEXTS, _TEXTS.map(_nfd)), max_size=8))
def test_batch_equals_single(segmenter: Segmenter, texts: list[str]) -> None:
    assert segmenter.segment_many(texts) == [segmenter.segment(t) for t in texts]
    assert segmenter.tokenize_many(texts) == [segmenter.tokenize(t) for t in texts]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(_TEXTS, _TEXTS.map(_nfd)), max_size=8))
def test_vectorized_path_equals_python_path(texts: list[str]) -> None:
    # Small batches run in plain Python, large ones with NumPy: force each on the same texts.
    results = []
    for vectorize_from in (10**9, 1):
        segmenter = Segmenter(vectorize_from=vectorize_from)
        results.append((segmenter.tokenize_many(texts), segmenter.segment_many(texts)))
    assert results[0] == results[1]


def test_spans_on_sample(segmenter: Segmenter, pyvi_syllables) -> None:
    texts = _sample()
    for text, seg, tokenized in zip(
        texts, segmenter.segment_many(texts), segmenter.tokenize_many(texts), strict=True
    ):
        _check_spans(text, seg, tokenized, pyvi_syllables(text))


def test_units_follow_whitespace_in_plain_text(segmenter: Segmenter) -> None:
    # In ordinary prose every '_' of the output stands for whitespace in the input.
    text = "Hội nghị thống nhất cam kết thực hiện các chỉ tiêu nhiệm vụ cải cách hành chính"
    for start, end, _ in segmenter.words(text):
        assert re.sub(r"\s+", "_", text[start:end]) in segmenter.tokenize(text).split(" ")


# --- internals: each fast path against its reference ------------------------------------------

_NASTY_PIECES = [
    *'aAbBTpMrsDhSĐđẾếxX019²½٣_.,:;/-@+=>()"“”… \t\n\r\u00a0\u3000中\u0301',
    *["Tp", "Mr", "Mrs", "Ms", "Dr", "ThS", "http://", "a@b.c", "UBND", "1.5", "==>", "->"],
]
_NASTY = st.lists(st.sampled_from(_NASTY_PIECES), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=_NASTY)
def test_syllables_are_pyvis(pyvi_syllables, text: str) -> None:
    out: list[str] = []
    count = syllabize(unicodedata.normalize("NFC", text), out)
    assert out == pyvi_syllables(text)
    assert count == len(out)


@settings(max_examples=300, deadline=None)
@given(text=_NASTY)
def test_spans_are_ordered_on_any_text(segmenter: Segmenter, text: str) -> None:
    # Stray combining marks can make NFC reorder or merge characters across syllables; spans
    # must still be ordered and inside the text, and exact wherever NFC changes nothing.
    seg = segmenter.segment(text)
    flat = [x for span in seg.syllables for x in span]
    assert flat == sorted(flat)
    assert all(0 <= x <= len(text) for x in flat)
    starts = {a for a, _ in seg.syllables}
    ends = {b for _, b in seg.syllables}
    assert all(a in starts and b in ends and a <= b for a, b, _ in seg.words)
    if unicodedata.is_normalized("NFC", text):
        syllables: list[str] = []
        syllabize(text, syllables)
        assert [text[a:b] for a, b in seg.syllables] == syllables


# Scores from a handful of values make exact ties and near-ties between paths common.
_SCORE = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.5, -2.5, 1.9728821044701950, 2.3555648580493393]),
    st.floats(-12, 12, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    sequences=st.lists(
        st.lists(st.tuples(_SCORE, _SCORE), min_size=1, max_size=30), min_size=1, max_size=6
    )
)
def test_vectorized_viterbi_is_crfsuites(sequences: list[list[tuple[float, float]]]) -> None:
    import numpy as np

    trans = shared_model().trans
    s0 = np.array([a for seq in sequences for a, _ in seq])
    s1 = np.array([b for seq in sequences for _, b in seq])
    layout = Layout.of([len(seq) for seq in sequences])
    got = viterbi_numpy(s0, s1, layout, trans).astype(int).tolist()
    expected = []
    for seq in sequences:
        expected += viterbi_python([a for a, _ in seq], [b for _, b in seq], trans)
    assert got == expected


def test_model_weights_are_crfsuites(tmp_path: Path) -> None:
    # The model file is parsed by hand for exact weights; crfsuite's own dump (rounded to six
    # decimals) must agree on every feature. Attribute names may hold '\n' ("word.lower():\n"),
    # so the dump is matched as a whole, not line by line (pycrfsuite's info() trips on them).
    import pycrfsuite

    folder = pyvi_dir() / "models"
    raw = crfsuite_bytes((folder / "pyvi3.pkl").read_bytes())
    labels, state, trans = read_crfsuite(raw)
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(raw)
    tagger.dump(str(tmp_path / "dump.txt"))
    dump = (tmp_path / "dump.txt").read_text(encoding="utf-8")
    features = re.findall(
        r"^  \((\d)\) (.*?) --> (B_W|I_W): ([+-]?\d+\.\d+)$", dump, flags=re.M | re.S
    )
    dumped_state = {(a, lab): float(w) for kind, a, lab, w in features if kind == "0"}
    dumped_trans = {(a, lab): float(w) for kind, a, lab, w in features if kind == "1"}
    ours = {(a, labels[k]): w for a, ws in state.items() for k, w in enumerate(ws) if w != 0.0}
    assert len(dumped_state) == len(ours) > 10_000
    for key, weight in dumped_state.items():
        assert ours[key] == pytest.approx(weight, abs=1e-6)
    assert len(dumped_trans) == 4
    for (a, b), weight in dumped_trans.items():
        assert trans[labels.index(a)][labels.index(b)] == pytest.approx(weight, abs=1e-6)


def test_cache_fills_safely_from_threads() -> None:
    # A fresh model (empty syllable cache) filled by several threads at once.
    fresh = Model.from_pyvi()
    texts = [t for t in _sample() if t.strip()]
    expected = Segmenter().tokenize_many(texts)
    chunks = [texts[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(Segmenter(fresh).tokenize_many, chunks))
    for chunk, result in zip(chunks, results, strict=True):
        assert result == [expected[texts.index(t)] for t in chunk]
    assert len(fresh.index) == len(fresh.records) > 0


def test_full_cache_still_segments_exactly(pyvi_tokenize) -> None:
    # Past the cache limit, unseen syllables are scored on the spot (both paths).
    fresh = Model.from_pyvi(cache_limit=50)
    segmenter = Segmenter(fresh)
    texts = [t for t in _sample() if t.strip()][:60]
    assert segmenter.tokenize_many(texts) == [pyvi_tokenize(t) for t in texts]
    assert [segmenter.tokenize(t) for t in texts[:20]] == [pyvi_tokenize(t) for t in texts[:20]]
    assert len(fresh.records) == 50


def test_segmenters_share_the_process_model() -> None:
    assert Segmenter().model is Segmenter().model is shared_model()

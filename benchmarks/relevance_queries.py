"""Queries for ``benchmarks/relevance.py``: known-item forms made from titles, and topical queries.

Known-item queries are made from a bulletin's own title, in the forms people type; the bulletin
is the one relevant answer. Each form changes one thing about the title as published (the
"fragment, unaccented" form combines the two most common habits of phone users). Titles are
first reduced to the words a person would type: runs of letters and digits, with inner
``. - / ,`` kept ("TP.HCM", "COVID-19", "6/2/2017"), quotes and other punctuation dropped.

The topical queries were written for this benchmark, before looking at any system's results,
about the work of local government; each topic is asked with accents and without, and is
judged once (``benchmarks/judgments/topical_qrels.tsv``).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

_TYPED_WORD = re.compile(r"[^\W_]+(?:[.\-/,][^\W_]+)*")
_LETTERS = re.compile(r"[^\W\d_]+")

#: Forms of a title, in table order: key → label.
FORMS: dict[str, str] = {
    "published": "title as published",
    "unaccented": "no diacritics",
    "lower": "lower-cased",
    "fragment": "3–6-word fragment",
    "fragment_unaccented": "fragment, no diacritics, lower-case",
    "tone": "other tone placement (hòa↔hoà)",
    "tone_fragment": "fragment with the other tone placement",
    "nfd": "NFD (decomposed marks)",
    "acronym": "acronym (Ủy ban nhân dân→UBND …)",
    "expanded": "acronym spelled out (UBND→Ủy ban nhân dân …)",
}
#: Forms that only some titles have (the title must contain what the form changes).
RESTRICTED_FORMS = ("tone", "tone_fragment", "acronym", "expanded")

#: Common acronyms of Vietnamese government and news text, longest expansion first where one
#: contains another. Chosen as what people type, independently of bantin's own table: some are
#: not in it (TAND, VKSND, KCN, ĐHQG, the single token "TP.HCM").
ACRONYMS: tuple[tuple[str, str], ...] = (
    ("thành phố Hồ Chí Minh", "TP.HCM"),
    ("Ủy ban nhân dân", "UBND"),
    ("Hội đồng nhân dân", "HĐND"),
    ("Viện kiểm sát nhân dân", "VKSND"),
    ("Tòa án nhân dân", "TAND"),
    ("Mặt trận Tổ quốc", "MTTQ"),
    ("cải cách hành chính", "CCHC"),
    ("thủ tục hành chính", "TTHC"),
    ("bảo hiểm xã hội", "BHXH"),
    ("bảo hiểm y tế", "BHYT"),
    ("an toàn giao thông", "ATGT"),
    ("trung học phổ thông", "THPT"),
    ("trung học cơ sở", "THCS"),
    ("cảnh sát giao thông", "CSGT"),
    ("phòng cháy chữa cháy", "PCCC"),
    ("giải phóng mặt bằng", "GPMB"),
    ("công nghệ thông tin", "CNTT"),
    ("nông thôn mới", "NTM"),
    ("khu công nghiệp", "KCN"),
    ("Đại học Quốc gia", "ĐHQG"),
    ("hợp tác xã", "HTX"),
    ("thành phố", "TP"),
)


@dataclass(frozen=True)
class KnownItem:
    doc_id: str
    form: str
    query: str
    source_words: tuple[str, ...] = ()  # the title's typed words


# --- text helpers (benchmark-local, so the queries do not depend on the code under test) -------


def typed_words(title: str) -> list[str]:
    return _TYPED_WORD.findall(unicodedata.normalize("NFC", title))


def strip_diacritics(text: str) -> str:
    """Every tone and vowel mark removed and đ→d, case kept: "Ủy ban" → "Uy ban"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not _is_mark(c)))


def _is_mark(char: str) -> bool:
    return unicodedata.combining(char) != 0


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _tone_of(syllable: str) -> tuple[str, int] | None:
    """(tone mark, index of the letter carrying it) of an NFC syllable, if it has one tone."""
    found = None
    for i, char in enumerate(syllable):
        marks = [m for m in unicodedata.normalize("NFD", char)[1:] if m in _TONES]
        if marks:
            if found is not None:
                return None
            found = (marks[0], i)
    return found


def _move_tone(syllable: str) -> str:
    """The other placement of the tone on oa/oe/uy rimes: hòa↔hoà, thủy↔thuỷ, Ủy↔Uỷ.

    Only open syllables whose vowel cluster is exactly o+a, o+e or u+y (after a consonant, or
    none) are changed, which is where the old and new styles differ.
    """
    lower = syllable.lower()
    toned = _tone_of(syllable)
    if toned is None:
        return syllable
    mark, where = toned
    bare = strip_diacritics(lower)
    match = re.fullmatch(r"([bcdghklmnpqrstvx]*)(oa|oe|uy)", bare)
    if match is None or (bare.startswith("qu") and match.group(2) == "uy"):
        return syllable
    first = len(match.group(1))
    target = first + 1 if where == first else first if where == first + 1 else None
    if target is None:
        return syllable
    letters = [unicodedata.normalize("NFD", c) for c in syllable]
    letters[where] = letters[where].replace(mark, "")
    letters[target] = letters[target] + mark
    return unicodedata.normalize("NFC", "".join(letters))


def _key(word: str) -> str:
    """Comparison key of a word for finding acronym expansions: lower case, no marks."""
    return strip_diacritics(word).lower()


def _with_acronym(words: list[str]) -> list[str] | None:
    keys = [_key(w) for w in words]
    out: list[str] = []
    i = 0
    changed = False
    while i < len(words):
        for expansion, acronym in ACRONYMS:
            parts = [_key(p) for p in expansion.split()]
            if keys[i : i + len(parts)] == parts and _same_marks(
                words[i : i + len(parts)], expansion.split()
            ):
                out.append(acronym)
                i += len(parts)
                changed = True
                break
        else:
            out.append(words[i])
            i += 1
    return out if changed else None


def _spelled_out(words: list[str]) -> list[str] | None:
    expansions = {acronym: expansion for expansion, acronym in ACRONYMS}
    out = [expansions.get(word, word) for word in words]
    return out if out != words else None


def _same_marks(words: list[str], expansion: list[str]) -> bool:
    """The title's words are the expansion's (accents count; tone placement and case do not)."""
    for word, part in zip(words, expansion, strict=True):
        if sorted(unicodedata.normalize("NFD", word.lower())) != sorted(
            unicodedata.normalize("NFD", part.lower())
        ):
            return False
    return True


# --- known-item queries -------------------------------------------------------------------


def _fragment(words: list[str], rng: random.Random) -> list[str]:
    if len(words) < 4:
        return words
    size = rng.randint(3, min(6, len(words) - 1))
    start = rng.randint(0, len(words) - size)
    return words[start : start + size]


def _window_around(index: int, length: int, rng: random.Random) -> tuple[int, int]:
    """A 3–6-word window (shorter only for short titles) that contains word ``index``."""
    size = min(length, rng.randint(3, 6))
    start = rng.randint(max(0, index - size + 1), min(index, length - size))
    return start, start + size


def title_forms(doc_id: str, title: str, seed: int) -> dict[str, str]:
    """Every form this title has (restricted forms only when the title allows them)."""
    words = typed_words(title)
    rng = random.Random(f"{seed}:{doc_id}")
    fragment = _fragment(words, rng)
    forms = {
        "published": " ".join(words),
        "unaccented": strip_diacritics(" ".join(words)),
        "lower": " ".join(words).lower(),
        "fragment": " ".join(fragment),
        "fragment_unaccented": strip_diacritics(" ".join(fragment)).lower(),
        "nfd": unicodedata.normalize("NFD", " ".join(words)),
    }
    retoned = [_LETTERS.sub(lambda m: _move_tone(m.group(0)), word) for word in words]
    if retoned != words:
        forms["tone"] = " ".join(retoned)
        moved = next(i for i, (a, b) in enumerate(zip(words, retoned, strict=True)) if a != b)
        start, stop = _window_around(moved, len(words), rng)
        forms["tone_fragment"] = " ".join(retoned[start:stop])
    abbreviated = _with_acronym(words)
    if abbreviated is not None:
        forms["acronym"] = " ".join(abbreviated)
    spelled = _spelled_out(words)
    if spelled is not None:
        forms["expanded"] = " ".join(spelled)
    return {form: forms[form] for form in FORMS if form in forms}


def known_items(
    records: list[tuple[str, str, str]],
    local_gov: set[str],
    count: int,
    seed: int,
) -> list[KnownItem]:
    """Queries for ``count`` sampled titles per form.

    Candidates: bulletins whose title has at least five typed words and is the only one in
    the corpus with that title (accents and case ignored), so the known item is unambiguous.
    The general forms use bulletins that mention local government; the restricted forms
    (which few titles allow) take eligible local-government bulletins first, then any other.
    One shuffled order (fixed by ``seed``) is used for every form.
    """
    title_count = Counter(_key(" ".join(typed_words(title))) for _, title, _ in records)
    candidates = [
        (doc_id, title)
        for doc_id, title, _ in records
        if len(typed_words(title)) >= 5 and title_count[_key(" ".join(typed_words(title)))] == 1
    ]
    rng = random.Random(seed)
    rng.shuffle(candidates)
    ordered = [c for c in candidates if c[0] in local_gov]
    ordered += [c for c in candidates if c[0] not in local_gov]
    taken: Counter[str] = Counter()
    items: list[KnownItem] = []
    for doc_id, title in ordered:
        general = doc_id in local_gov
        for form, query in title_forms(doc_id, title, seed).items():
            if taken[form] < count and (general or form in RESTRICTED_FORMS):
                taken[form] += 1
                items.append(KnownItem(doc_id, form, query, tuple(typed_words(title))))
        if all(taken[form] >= count for form in RESTRICTED_FORMS):
            break
    return items


# --- topical queries ----------------------------------------------------------------------

#: (topic id, what a relevant bulletin is about, query with accents). The unaccented query of
#: each topic is the same text without diacritics, lower-cased.
TOPICS: tuple[tuple[str, str, str], ...] = (
    ("T01", "streamlining the civil-service payroll (tinh giản biên chế)", "tinh giản biên chế"),
    ("T02", "level-3 online public services", "dịch vụ công trực tuyến mức độ 3"),
    ("T03", "the new-countryside building programme", "xây dựng nông thôn mới"),
    ("T04", "site clearance for projects", "giải phóng mặt bằng"),
    ("T05", "reform of administrative procedures", "cải cách thủ tục hành chính"),
    ("T06", "officials receiving citizens (tiếp công dân)", "tiếp công dân"),
    ("T07", "merging communes / commune-level units", "sáp nhập xã"),
    ("T08", "sessions of a provincial people's council", "kỳ họp HĐND tỉnh"),
    ("T09", "disciplining a commune people's committee chairman", "kỷ luật chủ tịch UBND xã"),
    ("T10", "encroachment on pavements and its clearance", "lấn chiếm vỉa hè"),
    ("T11", "compensation and resettlement for land taken", "bồi thường tái định cư"),
    (
        "T12",
        "enforcement against illegal construction",
        "cưỡng chế công trình xây dựng trái phép",
    ),
    (
        "T13",
        "issuing land-use right certificates",
        "cấp giấy chứng nhận quyền sử dụng đất",
    ),
    ("T14", "citizens' complaints and denunciations", "khiếu nại tố cáo"),
    ("T15", "sustainable poverty reduction", "giảm nghèo bền vững"),
    ("T16", "civil-servant recruitment exams", "thi tuyển công chức"),
    ("T17", "e-government", "chính quyền điện tử"),
    ("T18", "deputies meeting voters", "tiếp xúc cử tri"),
    ("T19", "landfills causing pollution", "bãi rác gây ô nhiễm"),
    (
        "T20",
        "land recovery for delayed projects",
        "thu hồi đất dự án chậm triển khai",
    ),
    ("T21", "anti-corruption work", "phòng chống tham nhũng"),
    (
        "T22",
        "the provincial competitiveness index (PCI)",
        "chỉ số năng lực cạnh tranh cấp tỉnh",
    ),
    ("T23", "disbursing public-investment capital", "giải ngân vốn đầu tư công"),
    ("T24", "riverbank erosion and the response to it", "sạt lở bờ sông"),
    ("T25", "urban flooding and flood-control works", "chống ngập"),
    ("T26", "building permits", "cấp giấy phép xây dựng"),
    ("T27", "grade-10 admissions to public high schools", "tuyển sinh lớp 10"),
    ("T28", "food safety and its inspection", "an toàn vệ sinh thực phẩm"),
    (
        "T29",
        "information technology in state agencies",
        "ứng dụng CNTT trong cơ quan nhà nước",
    ),
    ("T30", "one-stop desks for administrative procedures", "bộ phận một cửa"),
)


def topical_queries() -> list[tuple[str, str, str]]:
    """(topic id, form, query): each topic with accents and without."""
    queries = []
    for topic, _about, accented in TOPICS:
        queries.append((topic, "accented", accented))
        queries.append((topic, "unaccented", strip_diacritics(accented).lower()))
    return queries


def read_qrels(text: str) -> dict[str, dict[str, int]]:
    """``topic<TAB>doc id<TAB>grade`` lines (header and ``#`` comments skipped)."""
    qrels: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("topic\t"):
            continue
        topic, doc_id, grade = line.split("\t")
        qrels.setdefault(topic, {})[doc_id] = int(grade)
    return qrels

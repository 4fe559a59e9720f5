"""Vietnam's provinces and district-level units, and finding them in a bulletin.

The units come from the `vietnamadminunits` package (its bundled SQLite data: the 63
provinces and 696 district-level units in force before July 2025, and its converter to the 34
provinces after the merger). It is read once, lazily, on first use. Which of the units found
a bulletin is about is decided in `index.locality`.

Matching is done on a "match key" of the text: NFC, lower case, and the traditional tone
placement of :mod:`searcher.text` ("Hoà"/"Hòa", "Thuỷ"/"Thủy" are one key), the normalisation
documents and queries get. The key has exactly one character per character of the NFC text, so
a match's span also points into the original text, where we check capitalisation. Only
`searcher.text` is imported: the indexer's metadata does not depend on the Whoosh analysis.

Units merged or renamed before July 2025 ("huyện Hoành Bồ", "quận 9", "thị xã Cửa Lò") are
known through the package's alias keys, which are accent-free: they are matched only after
their type word, and keep the name the bulletin gives them, with their successor's province.

Province names: the 63-province table in the package already carries Huế's January 2025
rename ("Thành phố Huế"); we report the name used in the 63-province system for most of its
life, "Thừa Thiên Huế", so bulletins about one province do not split into two facet values.
`province_current` says "Huế".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from searcher.text import LETTER_RUN, fold, lower_same_length, retone

# ---------------------------------------------------------------------------------------
# Match keys


def match_key(text: str) -> str:
    """NFC, lower-cased, traditional tone placement; same length as NFC(text).

    Built from :mod:`searcher.text` rather than :func:`searcher.text.canonical_syllable`
    because a match's span must point into the text: lower-casing and tone placement here
    keep one character per character.
    """
    low = lower_same_length(unicodedata.normalize("NFC", text))
    return LETTER_RUN.sub(lambda m: retone(m.group(0), new_style=False), low)


# ---------------------------------------------------------------------------------------
# The units

_LEGACY_NAMES = {"46": "Thừa Thiên Huế"}  # see the module docstring
# Names people write that the package does not carry in accented form.
_PROVINCE_ALIASES = {
    "46": ("Thừa Thiên Huế", "Thừa Thiên - Huế", "TT-Huế", "TT Huế"),
    "79": ("TP.HCM", "TPHCM", "TP HCM", "TP. HCM", "HCM", "Sài Gòn"),
    "77": ("Bà Rịa Vũng Tàu", "BR-VT"),
    "66": ("Đăk Lăk", "Đắc Lắc", "Daklak"),
    "67": ("Đăk Nông", "Đắc Nông"),
    "62": ("Kontum",),
}
# Province names that are also common in other senses: they count only with a type word.
_PROVINCE_NEEDS_TYPE = frozenset({"79"})  # "tư tưởng Hồ Chí Minh"

# What a bulletin writes in front of a district name, by key: type it stands for.
_TYPE_WORDS = {
    "thành phố": "Thành phố", "tp": "Thành phố", "tp.": "Thành phố",
    "thị xã": "Thị xã", "tx": "Thị xã", "tx.": "Thị xã",
    "quận": "Quận", "q.": "Quận",
    "huyện": "Huyện", "h.": "Huyện",
}  # fmt: skip
_PROVINCE_TYPE_WORDS = ("tỉnh", "thành phố", "tp", "tp.")
# A bare name right after these words names something else ("xã Châu Thành", "chợ Tân Kỳ").
_NOT_DISTRICT_BEFORE = frozenset((
    "xã", "phường", "trấn", "ấp", "thôn", "xóm", "khóm", "bản", "tổ", "đường", "phố", "cầu",
    "chợ", "sông", "kênh", "rạch", "trường", "hồ", "núi", "khu", "cụm", "làng", "cảng", "đảo",
    "bến", "đồi", "đèo", "đình", "chùa", "đền", "nhà", "viên",
))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Province:
    code: str  # GSO code: "87"
    name: str  # as in the 63-province system: "Đồng Tháp", "Thừa Thiên Huế"
    full_name: str  # "Tỉnh Đồng Tháp"
    current: str | None  # after the July 2025 merger: "Đồng Tháp", "Huế"


@dataclass(frozen=True, slots=True)
class District:
    code: str  # GSO code: "867"
    name: str  # official full name: "Thành phố Sa Đéc"
    short: str  # "Sa Đéc"
    type: str  # "Thành phố"
    province: Province


@dataclass(frozen=True, slots=True)
class Mention:
    """A place named in the text, with the units it may be."""

    start: int
    weight: float
    districts: tuple[District, ...] = ()  # empty for a province mention
    province: Province | None = None  # set for a province mention
    named_type: str | None = None  # the type word the text used, if any
    written: str | None = None  # a former unit's name as written ("Hoành Bồ")


# Words of a match key: letters and digits, apostrophes inside ("m'đrắk"); dashes and dots
# separate words, so "Phan Rang - Tháp Chàm" and "Phan Rang-Tháp Chàm" are the same four.
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# What may stand between the words of one name, and between a type word and the name.
_NAME_GAP = re.compile(r"\s*[-–]?\s*")
_TYPE_GAP = re.compile(r"\.?\s*")
# Type words as token tuples; the one-letter abbreviations count only with their dot.
_TYPE_TOKENS: dict[tuple[str, ...], str] = {
    tuple(_TOKEN.findall(word)): district_type for word, district_type in _TYPE_WORDS.items()
}
_DOTTED_ONLY = frozenset({("h",), ("q",)})
_PROVINCE_TYPE_TOKENS = frozenset(tuple(_TOKEN.findall(w)) for w in _PROVINCE_TYPE_WORDS)
_TYPE_FIRST_WORDS = frozenset(t[0] for t in (*_TYPE_TOKENS, *_PROVINCE_TYPE_TOKENS))


def name_tokens(name: str) -> tuple[str, ...]:
    """A name as the tuple of its key's words: the form names are looked up by."""
    return tuple(_TOKEN.findall(match_key(name)))


class Gazetteer:
    """Provinces and districts indexed by the words of their names' match keys."""

    def __init__(
        self,
        provinces: Sequence[Province],
        districts: Sequence[District],
        former: Mapping[tuple[str, str], District] | None = None,
    ) -> None:
        self.provinces = {p.code: p for p in provinces}
        # Former units, by (type, accent-free name) -> the unit that took them over.
        self.former = dict(former or {})
        self.districts = tuple(districts)
        by_name: dict[tuple[str, ...], list[District]] = defaultdict(list)
        for d in districts:
            by_name[name_tokens(d.short)].append(d)
        self.districts_by_name = {k: tuple(v) for k, v in by_name.items()}
        self.provinces_by_name: dict[tuple[str, ...], Province] = {}
        for p in provinces:
            names = (p.name, p.full_name, p.full_name.split(" ", 1)[1])
            for name in (*names, *_PROVINCE_ALIASES.get(p.code, ())):
                self.provinces_by_name.setdefault(name_tokens(name), p)
        # For each word that starts a name, the longest name it starts: most words start none.
        self._starts: dict[str, int] = {}
        for name in (*self.districts_by_name, *self.provinces_by_name):
            self._starts[name[0]] = max(self._starts.get(name[0], 0), len(name))

    # -- lookups ---------------------------------------------------------------------------

    def province(self, name: str) -> Province | None:
        """The province a free-form name means: "Đồng Tháp", "Tỉnh Đồng Tháp", "TP.HCM"."""
        tokens = name_tokens(name)
        found = self.provinces_by_name.get(tokens)
        if found is None:
            for prefix in _PROVINCE_TYPE_TOKENS:
                if tokens[: len(prefix)] == prefix:
                    found = found or self.provinces_by_name.get(tokens[len(prefix) :])
        return found

    def districts_named(self, name: str) -> tuple[District, ...]:
        """Districts a free-form name may mean: "Sa Đéc", "Thành phố Sa Đéc", "TP. Cao Lãnh"."""
        tokens = name_tokens(name)
        found = self.districts_by_name.get(tokens, ())
        if found:
            return found
        for prefix, district_type in _TYPE_TOKENS.items():
            if tokens[: len(prefix)] == prefix and len(tokens) > len(prefix):
                named = self.districts_by_name.get(tokens[len(prefix) :], ())
                same_type = tuple(d for d in named if d.type == district_type)
                if named:
                    return same_type or named
        return ()

    # -- finding mentions in text ----------------------------------------------------------

    def _name_at(
        self, key: str, words: Sequence[re.Match[str]], tokens: Sequence[str], i: int
    ) -> tuple[int, tuple[str, ...]] | None:
        """The longest known name starting at word i: (number of words, name tokens)."""
        if i >= len(tokens):
            return None
        longest = min(self._starts.get(tokens[i], 0), len(tokens) - i)
        for n in range(longest, 0, -1):
            name = tuple(tokens[i : i + n])
            if name not in self.districts_by_name and name not in self.provinces_by_name:
                continue
            gaps = (key[words[j].end() : words[j + 1].start()] for j in range(i, i + n - 1))
            if all(_NAME_GAP.fullmatch(g) for g in gaps):
                return n, name
        return None

    def _type_at(
        self, key: str, words: Sequence[re.Match[str]], tokens: Sequence[str], i: int
    ) -> tuple[int, tuple[str, ...]] | None:
        """A type word ("huyện", "thành phố", "TP.") ending right before a name at word i."""
        if tokens[i] not in _TYPE_FIRST_WORDS:
            return None
        for size in (2, 1):
            if i + size >= len(tokens):
                continue
            typed = tuple(tokens[i : i + size])
            if typed not in _TYPE_TOKENS and typed not in _PROVINCE_TYPE_TOKENS:
                continue
            gap = key[words[i + size - 1].end() : words[i + size].start()]
            if not _TYPE_GAP.fullmatch(gap) or (typed in _DOTTED_ONLY and "." not in gap):
                continue
            if size == 2 and not _NAME_GAP.fullmatch(key[words[i].end() : words[i + 1].start()]):
                continue
            return size, typed
        return None

    def mentions(self, text: str, weight: float = 1.0) -> list[Mention]:
        """Every province and district named in `text`, in order.

        A name after a type word ("huyện Tân Kỳ", "TP.Cao Lãnh", "tỉnh Đồng Tháp") is a
        mention whatever its case; a bare name counts half, and only when it is written as a
        proper name on its own (see `_is_proper_noun`).
        """
        text = unicodedata.normalize("NFC", text)
        key = match_key(text)
        words = list(_TOKEN.finditer(key))
        tokens = [w.group() for w in words]
        found: list[Mention] = []
        starts, type_words = self._starts, _TYPE_FIRST_WORDS
        # Most words start no name and are no type word: look only where one could begin.
        candidates = [i for i, t in enumerate(tokens) if t in starts or t in type_words]
        consumed = 0  # words before this index belong to a mention already found
        for i in candidates:
            if i < consumed:
                continue
            typed = self._type_at(key, words, tokens, i)
            if typed is not None:
                size, type_tokens = typed
                name = self._name_at(key, words, tokens, i + size)
                start = words[i].start()
                mention = name and self._typed_mention(start, weight, type_tokens, name[1])
                if name and mention is not None:
                    found.append(mention)
                    consumed = i + size + name[0]
                    continue
                former = self._former_at(text, key, words, tokens, i, size, type_tokens, weight)
                if former is not None:
                    found.append(former[1])
                    consumed = i + size + former[0]
                    continue
            name = self._name_at(key, words, tokens, i)
            if name is None:
                continue
            n, found_name = name
            a, b = words[i].start(), words[i + n - 1].end()
            if _is_proper_noun(text, a, b):
                mention = self._bare_mention(a, weight, found_name)
                if mention is not None:
                    found.append(mention)
            consumed = i + n
        return found

    def _former_at(
        self,
        text: str,
        key: str,
        words: Sequence[re.Match[str]],
        tokens: Sequence[str],
        i: int,
        size: int,
        type_tokens: tuple[str, ...],
        weight: float,
    ) -> tuple[int, Mention] | None:
        """A unit merged or renamed away, named with its type ("huyện Hoành Bồ", "quận 9")."""
        named_type = _TYPE_TOKENS.get(type_tokens)
        if named_type is None or not self.former:
            return None
        j = i + size
        for n in range(min(_FORMER_MAX_WORDS, len(tokens) - j), 0, -1):
            gaps = (key[words[k].end() : words[k + 1].start()] for k in range(j, j + n - 1))
            if not all(_NAME_GAP.fullmatch(g) for g in gaps):
                continue
            successor = self.former.get((named_type, "".join(map(fold, tokens[j : j + n]))))
            if successor is not None:
                span = text[words[j].start() : words[j + n - 1].end()]
                written = " ".join(w[:1].upper() + w[1:] for w in span.split())
                mention = Mention(
                    words[i].start(), weight, (successor,), named_type=named_type, written=written
                )
                return n, mention
        return None

    def _typed_mention(
        self, start: int, weight: float, type_tokens: tuple[str, ...], name: tuple[str, ...]
    ) -> Mention | None:
        districts = self.districts_by_name.get(name, ())
        province = self.provinces_by_name.get(name)
        named_type = _TYPE_TOKENS.get(type_tokens)
        if named_type is None:  # "tỉnh …"
            return Mention(start, weight, province=province) if province else None
        if named_type == "Thành phố" and province is not None:
            # "thành phố Cần Thơ" is a province; "thành phố Hà Tĩnh" a district of one.
            districts = tuple(d for d in districts if d.type == "Thành phố")
            if not districts:
                if province.full_name.startswith("Thành phố"):
                    return Mention(start, weight, province=province)
                return None  # "thành phố Ninh Bình": a city renamed since (Hoa Lư)
        if not districts:
            return None
        same_type = tuple(d for d in districts if d.type == named_type)
        return Mention(start, weight, same_type or districts, named_type=named_type)

    def _bare_mention(self, start: int, weight: float, name: tuple[str, ...]) -> Mention | None:
        province = self.provinces_by_name.get(name)
        if province is not None:
            # A name shared by a province and a district ("Hà Tĩnh") bare means the province.
            if province.code in _PROVINCE_NEEDS_TYPE:
                return None
            return Mention(start, weight * 0.5, province=province)
        districts = self.districts_by_name.get(name, ())
        if districts and _bare_name_ok(name):
            return Mention(start, weight * 0.5, districts)
        return None


_FORMER_MAX_WORDS = 4
_FORMER_TYPES = {"huyen": "Huyện", "thixa": "Thị xã", "thanhpho": "Thành phố", "quan": "Quận"}


def _bare_name_ok(name: tuple[str, ...]) -> bool:
    # One short syllable ("Vinh", "Chũ", "1") is too often something else.
    return len(name) > 1 or len(name[0]) >= 5


_WORD_BEFORE = re.compile(r"([^\W\d_][\w.'’-]*)\s*$")
_WORD_AFTER = re.compile(r"^\s+([^\W\d_]\w*)")


def _is_proper_noun(text: str, a: int, b: int) -> bool:
    """The span is written as a name on its own, not inside a longer name or a ward's name."""
    span = text[a:b]
    words = span.replace("-", " ").split()
    if not all(w[0].isupper() for w in words if w[0].isalpha()):
        return False
    before = _WORD_BEFORE.search(text[max(0, a - 40) : a])
    if before and not re.search(r"[.:;!?,(\"“–-]\s*$", text[max(0, a - 40) : a]):
        word = before.group(1)
        if match_key(word) in _NOT_DISTRICT_BEFORE:
            return False
        # "Nguyễn Thanh Bình" is a person; "UBND Tân Kỳ" and "TP Cao Lãnh" are fine.
        if word[0].isupper() and not word.isupper() and len(word) > 1:
            return False
    after = _WORD_AFTER.match(text[b : b + 40])
    return not (after and after.group(1)[0].isupper() and not after.group(1).isupper())


# ---------------------------------------------------------------------------------------
# Loading


@cache
def load() -> Gazetteer:
    """The gazetteer, built from the package data on first use and kept."""
    from vietnamadminunits import convert_address  # loaded on first use
    from vietnamadminunits.database import get_data

    fields = ["province", "provinceShort", "provinceCode", "district", "districtType",
              "districtCode", "districtAlias"]  # fmt: skip
    rows = get_data(fields=fields, table="admin_units_legacy")
    provinces: dict[str, Province] = {}
    districts: list[District] = []
    former: dict[tuple[str, str], District] = {}
    for row in sorted(rows, key=lambda r: (r["provinceCode"], r["districtCode"])):
        code = row["provinceCode"]
        if code not in provinces:
            current = convert_address(row["province"])
            provinces[code] = Province(
                code=code,
                name=_LEGACY_NAMES.get(code, row["provinceShort"]),
                full_name=row["province"],
                current=getattr(current, "short_province", None),
            )
        # `districtShort` disambiguates ("Cao Lãnh (Thành phố)"); the name itself is plain.
        district_type = row["districtType"]
        short = row["district"][len(district_type) :].strip()
        district = District(
            row["districtCode"], row["district"], short, district_type, provinces[code]
        )
        districts.append(district)
        # Earlier names of the unit (merged or renamed away), as accent-free keys:
        # "huyenhoanhbo" for Thành phố Hạ Long. Only the typed forms are used.
        for alias in json.loads(row["districtAlias"] or "[]"):
            for prefix, former_type in _FORMER_TYPES.items():
                if alias.startswith(prefix) and len(alias) > len(prefix):
                    former.setdefault((former_type, alias[len(prefix) :]), district)
    return Gazetteer(list(provinces.values()), districts, former)

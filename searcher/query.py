"""User text → a structured query, leniently: anything typed parses, with warnings, never raises.

Syntax people use: plain words (all should match), "quoted phrases", ``-word`` / ``-"phrase"``
/ ``NOT word`` to exclude, ``OR`` between alternatives (``AND`` is the default and changes
nothing), ``title:word`` / ``title:"phrase"`` / ``title: word`` to search titles.
Stray quotes, parentheses, ``*``, control characters and over-long pastes are cleaned up with a
note instead of an error.

Whoosh's own query parser splits on spaces before analysis, so compound index terms could never
match; here every word goes through the same analysis as the documents, and the searcher turns
the resulting units into Whoosh queries (see :mod:`searcher.searcher`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from searcher.analysis import analyze, date_form, fold, has_diacritics, number_form

#: Queries longer than this are cut (a 10,000-character paste is not a query).
MAX_QUERY_CHARS = 500
#: More units than this are dropped: each costs a posting-list walk.
MAX_UNITS = 32

_SEARCHABLE_FIELDS = {"title": "title", "tieude": "title", "body": "body", "noidung": "body"}

_LEXER = re.compile(
    r"""
    (?P<neg>-)?(?P<field>[A-Za-z_]+:)?"(?P<phrase>[^"]*)(?P<close>"?)
    | (?P<or>\bOR\b|\|\|?)
    | (?P<and>\bAND\b|&&)
    | (?P<not>\bNOT\b)
    | (?P<bare_field>(?i:FIELD_NAMES):)(?=\s|$)
    | (?P<neg2>-)?(?P<field2>[A-Za-z_]+:)?(?P<word>[^\s"()|]+)
    | (?P<paren>[()])
    """.replace("FIELD_NAMES", "|".join(_SEARCHABLE_FIELDS)),
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing a matching bulletin must contain: a word, a phrase, or an acronym's forms.

    ``alternatives`` are syllable sequences (canonical accented, lower-case), any one of which
    satisfies the unit: ("ubnd",) or ("ủy", "ban", "nhân", "dân").
    """

    alternatives: tuple[tuple[str, ...], ...]
    field: str | None = None  # None: title and body
    protected: str | None = None  # a document number or date typed as one token


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """The query as understood: AND of groups, each an OR of units; exclusions; boosts."""

    text: str
    groups: tuple[tuple[Unit, ...], ...]
    excluded: tuple[Unit, ...]
    #: Adjacent syllables that may form compound words: optional score boosts.
    compound_candidates: tuple[tuple[str, ...], ...]
    accented: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: Runs of two or more bare words typed side by side (the whole-phrase clauses).
    runs: tuple[tuple[str, ...], ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def positive_units(self) -> list[Unit]:
        return [unit for group in self.groups for unit in group]


@lru_cache(maxsize=1)
def acronyms() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Acronym table from ``searcher/data/acronyms.tsv``, keyed both ways by folded syllables.

    Maps ("ubnd",) → (("ubnd",), ("ủy","ban","nhân","dân")) and ("uy","ban","nhan","dan") →
    the same pair, so either form expands to both.
    """
    table: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    text = resources.files("searcher").joinpath("data/acronyms.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        acronym, _, expansion = line.partition("\t")
        short = _syllables(acronym)
        long = _syllables(expansion)
        if not short or not long:
            continue
        forms = (short, long)
        table.setdefault(tuple(fold(s) for s in short), forms)
        table.setdefault(tuple(fold(s) for s in long), forms)
    return table


def _syllables(text: str) -> tuple[str, ...]:
    """The syllables of ``text`` as searched: numbers in their canonical form ("1.500" → "1500")."""
    return tuple(number_form(t.text) for t in analyze(text, segment=False) if t.kind == "syllable")


def _clean(text: str) -> tuple[str, list[str]]:
    warnings: list[str] = []
    text = unicodedata.normalize("NFC", text)
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") else c for c in text
    )
    if len(cleaned) > MAX_QUERY_CHARS:
        cleaned = cleaned[:MAX_QUERY_CHARS]
        warnings.append(f"Câu tìm kiếm quá dài: chỉ dùng {MAX_QUERY_CHARS} ký tự đầu.")
    return cleaned.strip(), warnings


def parse_query(text: str) -> ParsedQuery:
    """Parse what a person typed. Never raises; odd input yields warnings or an empty query."""
    cleaned, warnings = _clean(text or "")
    groups: list[list[Unit]] = []
    excluded: list[Unit] = []
    pending_or = False
    pending_not = False
    #: A field name typed with a space before its word ("title: hội nghị"), and its text.
    pending_field: str | None = None
    bare_runs: list[list[str]] = [[]]  # runs of adjacent bare words: compound candidates
    ignored: set[str] = set()
    for match in _LEXER.finditer(cleaned):
        if match.group("paren"):
            ignored.add("ngoặc đơn")
            continue
        if match.group("or"):
            pending_or = bool(groups)
            bare_runs.append([])
            continue
        if match.group("and"):
            continue
        if match.group("not"):
            pending_not = True
            bare_runs.append([])
            continue
        if match.group("bare_field"):
            if pending_field:
                ignored.add(f"“{pending_field}” không có từ theo sau")
            pending_field = match.group("bare_field")
            bare_runs.append([])
            continue
        negated = bool(match.group("neg") or match.group("neg2")) or pending_not
        pending_not = False
        field_name = (match.group("field") or match.group("field2") or pending_field or "")[:-1]
        pending_field = None
        field_target = _SEARCHABLE_FIELDS.get(field_name.lower()) if field_name else None
        if field_name and field_target is None:
            ignored.add(f"trường “{field_name}:”")
        if match.group("phrase") is not None:
            if not match.group("close"):
                ignored.add("dấu ngoặc kép chưa đóng")
            words = _syllables(match.group("phrase"))
            unit = Unit((words,), field_target) if words else None
            bare_runs.append([])
        else:
            raw = match.group("word")
            tokens = analyze(raw, segment=False)
            words = tuple(number_form(t.text) for t in tokens if t.kind == "syllable")
            protected = next((date_form(t.text) for t in tokens if t.kind == "protected"), None)
            if not words:
                if raw.strip("*?~^+-:") or raw not in ("-", "+"):
                    ignored.add(f"“{raw}”")
                unit = None
            else:
                unit = Unit((words,), field_target, protected)
                if negated or field_target or len(words) > 1:
                    bare_runs.append([])
                else:
                    bare_runs[-1].append(words[0])
        if unit is None:
            pending_or = False
            continue
        if negated:
            excluded.append(unit)
        elif pending_or:
            groups[-1].append(unit)
        else:
            groups.append([unit])
        pending_or = False
    if pending_field:
        ignored.add(f"“{pending_field}” không có từ theo sau")
    if pending_not:
        ignored.add("“NOT” không có từ theo sau")
    if ignored:
        warnings.append("Đã bỏ qua: " + ", ".join(sorted(ignored)) + ".")
    if sum(len(g) for g in groups) > MAX_UNITS:
        warnings.append(f"Chỉ dùng {MAX_UNITS} từ đầu tiên của câu tìm kiếm.")
        groups = _truncate(groups, MAX_UNITS)
    groups = [_with_acronyms(group) for group in _merge_acronym_phrases(groups)]
    candidates = tuple(
        tuple(run[i : i + n]) for run in bare_runs for n in (2, 3) for i in range(len(run) - n + 1)
    )
    accented = has_diacritics(cleaned)
    if not groups and excluded:
        warnings.append("Cần ít nhất một từ không bị loại trừ (dấu “-”).")
    return ParsedQuery(
        text=cleaned,
        groups=tuple(tuple(g) for g in groups),
        excluded=tuple(_with_acronyms([u])[0] for u in excluded),
        compound_candidates=candidates,
        accented=accented,
        warnings=tuple(warnings),
        runs=tuple(tuple(run) for run in bare_runs if len(run) > 1),
    )


def _truncate(groups: list[list[Unit]], limit: int) -> list[list[Unit]]:
    kept: list[list[Unit]] = []
    count = 0
    for group in groups:
        if count + len(group) > limit:
            break
        kept.append(group)
        count += len(group)
    return kept


def _merge_acronym_phrases(groups: list[list[Unit]]) -> list[list[Unit]]:
    """Join runs of single-word units that spell an acronym's expansion into one unit."""
    table = acronyms()
    longest = max((len(key) for key in table), default=1)
    merged: list[list[Unit]] = []
    i = 0
    while i < len(groups):
        matched = False
        for n in range(min(longest, len(groups) - i), 1, -1):
            window = groups[i : i + n]
            if not all(_is_plain_word(g) for g in window):
                continue
            key = tuple(fold(g[0].alternatives[0][0]) for g in window)
            if key in table:
                words = tuple(g[0].alternatives[0][0] for g in window)
                merged.append([Unit((words,))])
                i += n
                matched = True
                break
        if not matched:
            merged.append(groups[i])
            i += 1
    return merged


def _is_plain_word(group: list[Unit]) -> bool:
    return (
        len(group) == 1
        and group[0].field is None
        and len(group[0].alternatives) == 1
        and len(group[0].alternatives[0]) == 1
    )


def _with_acronyms(group: list[Unit]) -> list[Unit]:
    """Give each unit whose words are an acronym or its expansion both forms."""
    table = acronyms()
    expanded: list[Unit] = []
    for unit in group:
        words = unit.alternatives[0]
        forms = table.get(tuple(fold(w) for w in words))
        if forms is None or len(unit.alternatives) > 1:
            expanded.append(unit)
            continue
        alternatives = (
            words,
            *(form for form in forms if tuple(map(fold, form)) != tuple(map(fold, words))),
        )
        expanded.append(Unit(alternatives, unit.field, unit.protected))
    return expanded

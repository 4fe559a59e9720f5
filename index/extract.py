"""Metadata from a bulletin's text: title, date, author and locality.

Pure functions on strings, so each rule is tested on the sentences that motivated it. The
readers call them only for what a record does not already carry.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from index.gazetteer import match_key
from index.locality import province_of, resolve

_I = re.IGNORECASE

# ---------------------------------------------------------------------------------------
# Title

# Some portal templates print an unset category as "null" in front of the title.
_NULL_PREFIX = re.compile(r"^(?:null|none|undefined)\s+", _I)
# "… - Cổng thông tin điện tử huyện X" / "… | Trang TTĐT …": the site, not the title.
_SITE_SUFFIX = re.compile(
    r"\s+[-–|]\s+(?:cổng|trang)\s+(?:thông tin|ttđt|tt)\b.*$|\s+[-–|]\s+cổng\s+ttđt\b.*$", _I
)


def clean_title(line: str) -> str | None:
    """A title candidate without template noise ("null " prefix, site name); None if empty."""
    title = " ".join(line.split())
    title = _NULL_PREFIX.sub("", title)
    title = _SITE_SUFFIX.sub("", title).strip()
    return title or None


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")
_HEADLINE_WORDS = 20


def headline(text: str, max_words: int = _HEADLINE_WORDS) -> str:
    """A short title made from prose: its first sentence, or its first words and "…"."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    words = first.split()
    if len(words) <= max_words:
        return " ".join(words)
    return " ".join(words[:max_words]) + " …"


# ---------------------------------------------------------------------------------------
# Date

_MIN_YEAR, _MAX_YEAR = 1945, 2100
_LEAD_PARAGRAPHS = 2  # the event date is written in the lead, if anywhere
_META_LINES = 3  # where "Ngày cập nhật …" lines sit, relative to the start of the text

_NUMERIC_DATE = (
    r"(?<!\d)(?P<d>\d{1,2})(?:\s*(?:-|–|và|,)\s*\d{1,2})?\s*[/.-]\s*(?P<m>\d{1,2})"
    r"\s*[/.-]\s*(?P<y>\d{4})(?!\d)"
)
_WORDED_DATE = r"ngày\s+(?P<d2>\d{1,2})\s+tháng\s+(?P<m2>\d{1,2})\s+năm\s+(?P<y2>\d{4})"
_ISO_DATE = r"(?<!\d)(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})(?!\d)"
DATE = re.compile(f"{_WORDED_DATE}|{_NUMERIC_DATE}|{_ISO_DATE}", _I)

# Lines that state when the bulletin was published.
_PUBLISHED = re.compile(
    r"^(?:ngày\s+cập\s+nhật|cập\s+nhật(?:\s+lúc|\s+ngày)?|ngày\s+đăng|đăng\s+ngày|"
    r"ngày\s+xuất\s+bản|xuất\s+bản\s+ngày|thời\s+gian\s+đăng|ngày\s+đưa\s+tin)\b",
    _I,
)
# A dateline opening the lead: "Sáng ngày 05/7/2022, …", "Ngày 29/4/2022, …".
_DATELINE = re.compile(
    r"^\W{0,3}(?:(?:sáng|chiều|tối|trưa|đêm|rạng sáng|sáng sớm)\s+)?"
    r"(?:(?:thứ\s+\w+|chủ\s+nhật)\s*,?\s+)?",
    _I,
)
_DAY_WORD = re.compile(r"ngày\s+", _I)
# A date right after one of these is the date of another document, not of the event:
# "Quyết định số 1822/QĐ-UBND ngày 22/12/2020".
_REFERENCE = re.compile(
    r"(?:\b(?:quyết\s+định|kế\s+hoạch|công\s+văn|thông\s+báo|nghị\s+quyết|nghị\s+định|"
    r"chỉ\s+thị|thông\s+tư|tờ\s+trình|báo\s+cáo|văn\s+bản|luật|pháp\s+lệnh|hướng\s+dẫn|"
    r"đề\s+án|chương\s+trình|quy\s+định|quy\s+chế|giấy\s+phép|biên\s+bản)\b"
    r"|\bsố\s*:?\s*[\w./-]*\d[\w./-]*)"
    # what may stand between the designation and the date: no comma, no other date
    r"(?:(?!ngày\s+\d)[^,;:!?.]){0,50}?"
    r"(?:\s(?:ban\s+hành|ký)\s+)?(?:\sngày)?\s*$",
    _I,
)
_REFERENCE_WINDOW = 120


def parse_date(day: str, month: str, year: str) -> datetime.date | None:
    """A real calendar date from its parts, or None (30/02, month 13, year 20222)."""
    y, m, d = int(year), int(month), int(day)
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        return None
    try:
        return datetime.date(y, m, d)
    except ValueError:
        return None


def _date_of(match: re.Match[str]) -> datetime.date | None:
    g = match.groupdict()
    if g["d2"]:
        return parse_date(g["d2"], g["m2"], g["y2"])
    if g["d"]:
        return parse_date(g["d"], g["m"], g["y"])
    return parse_date(g["d3"], g["m3"], g["y3"])


def _is_reference(text: str, start: int) -> bool:
    before = text[max(0, start - _REFERENCE_WINDOW) : start]
    return bool(_REFERENCE.search(before))


def find_dates(text: str, *, skip_references: bool = True) -> list[datetime.date]:
    """Valid dates in `text`, in order, without those that date another document."""
    found = []
    for m in DATE.finditer(text):
        date = _date_of(m)
        if date is None:
            continue
        if skip_references and _is_reference(text, m.start()):
            continue
        found.append(date)
    return found


# Metadata sits near the start (date, lead) or the end (byline) of a bulletin: on a huge
# text, only this much of either end is read, so the cost does not grow with the text.
_HEAD_CHARS = 20_000
_TAIL_CHARS = 4_000


def _paragraphs(text: str) -> list[str]:
    return [p for p in (" ".join(s.split()) for s in text.splitlines()) if p]


def _head(text: str, size: int = _HEAD_CHARS) -> str:
    """The start of `text`, cut at a line break so no paragraph is cut in two."""
    if len(text) <= size:
        return text
    cut = text.rfind("\n", 0, size)
    return text[: cut if cut > 0 else size]


def _tail(text: str, size: int = _TAIL_CHARS) -> str:
    if len(text) <= size:
        return text
    cut = text.find("\n", len(text) - size)
    return text[cut + 1 if cut >= 0 else len(text) - size :]


def _dateline(paragraph: str) -> datetime.date | None:
    """The date a paragraph opens with, after an optional time of day and weekday."""
    opening = _DATELINE.match(paragraph)
    pos = opening.end() if opening else 0
    m = DATE.match(paragraph, pos)
    if m is None and (day := _DAY_WORD.match(paragraph, pos)):
        m = DATE.match(paragraph, day.end())
    return _date_of(m) if m else None


def extract_date(text: str) -> datetime.date | None:
    """The bulletin's own date.

    In order of trust: a publication line near the top ("Ngày cập nhật 11/01/2021"); a
    dateline opening a lead paragraph ("Sáng ngày 05/7/2022, …"); the first date in the lead
    that is not the date of a cited document ("Quyết định số … ngày 22/12/2020").
    """
    paragraphs = _paragraphs(_head(text))
    for line in paragraphs[:_META_LINES]:
        if _PUBLISHED.search(line):
            dates = find_dates(line, skip_references=False)
            if dates:
                return dates[0]
    lead = [p for p in paragraphs[: _META_LINES + _LEAD_PARAGRAPHS] if not _PUBLISHED.search(p)]
    lead = lead[:_LEAD_PARAGRAPHS]
    for para in lead:
        if (date := _dateline(para)) is not None:
            return date
    for para in lead:
        dates = find_dates(para)
        if dates:
            return dates[0]
    return None


# ---------------------------------------------------------------------------------------
# Author and source unit

_SIGNATURE_PARAGRAPHS = 4  # the byline sits in the last few paragraphs
_MAX_NAME_WORDS = 5
_MAX_BYLINE_WORDS = 20
_CREDIT = re.compile(
    r"^\(?\s*(?:tin|bài|ảnh|tin\s*(?:,|và|/)\s*ảnh|bài\s*(?:,|và|/)\s*ảnh|tin\s*(?:,|và|/)\s*bài|"
    r"tác\s+giả|người\s+viết|thực\s+hiện|phóng\s+viên)\s*:\s*(?P<who>.+?)\)?$",
    _I,
)
_SOURCE = re.compile(r"^\(?\s*nguồn\s*:\s*(?P<unit>.+?)\s*\)?\.?$", _I)
_PARENTHESISED = re.compile(r"^\((?P<inner>[^()]+)\)\.?$")
_SPLIT_NAME = re.compile(
    r"^(?P<head>[^,(–—-]+?)\s*(?:(?:\s[-–—]|[-–—]\s|,|\()\s*(?P<rest>.+?))?\)?$"
)
_INITIALS = re.compile(r"^(?:\w\.)+")
# Words that open the name of an office, not of a person ("Nội vụ", "Trung tâm VHTT-TT …").
_UNIT_WORDS = (
    "trung tâm", "phòng", "văn phòng", "ban", "sở", "ubnd", "ủy ban", "uỷ ban", "hđnd", "đài",
    "báo", "cổng", "trang", "hội", "đoàn", "huyện ủy", "huyện uỷ", "thành ủy", "thành uỷ",
    "tỉnh ủy", "tỉnh uỷ", "thị ủy", "thị uỷ", "quận ủy", "quận uỷ", "đảng ủy", "đảng uỷ",
    "chi cục", "cục", "bộ", "trường", "công an", "bệnh viện", "mặt trận", "liên đoàn",
    "nội vụ", "tư pháp", "tài chính", "y tế", "giáo dục", "văn hóa", "văn hoá", "vhtt",
    "ttvh", "tttt", "kho bạc", "bảo hiểm", "ngân hàng", "công ty", "hợp tác xã", "trạm",
    "đội", "bch", "ban chỉ huy", "tòa án", "toà án", "viện kiểm sát", "thành phố", "huyện",
    "thị xã", "quận", "tỉnh", "xã", "phường", "thị trấn", "theo", "tổng hợp",
)  # fmt: skip
# Unit words that are also common family or given names ("Đoàn Văn Tâm", "Trường Giang").
_ALSO_NAMES = frozenset({"đoàn", "trang", "trường", "hội"})
_UNIT_START = re.compile(r"^(?:" + "|".join(re.escape(w) for w in _UNIT_WORDS) + r")(?!\w)", _I)


def _is_name_word(word: str) -> bool:
    rest = _INITIALS.sub("", word)
    if rest == "":
        return word != "" and word[0].isupper()  # bare initials: "P.V."
    return rest[0].isupper() and (rest[1:].islower() or len(rest) == 1) and rest.isalpha()


def is_person_name(text: str) -> bool:
    """Looks like a byline name: "Thanh Nghĩa", "Phan Hoàng Minh", "T.Nghĩa"."""
    words = text.split()
    if not words or len(words) > _MAX_NAME_WORDS:
        return False
    if _UNIT_START.match(text) and words[0].lower() not in _ALSO_NAMES:
        return False
    if len(words) == 1 and not _INITIALS.match(words[0]):
        return False
    return all(_is_name_word(w) for w in words)


def is_unit(text: str) -> bool:
    """Names an office: "Trung tâm VHTT-TT Tân Kỳ", "phòng Nội vụ", "Nội vụ"."""
    return bool(_UNIT_START.match(text.strip()))


def _capitalize(unit: str) -> str:
    unit = unit.strip().rstrip(".").strip()
    return unit[:1].upper() + unit[1:]


def parse_byline(line: str) -> tuple[list[str], str | None]:
    """Split "Phan Hoàng Minh - Nội vụ" into (["Phan Hoàng Minh"], "Nội vụ").

    Several names separated by dashes or commas are co-authors ("Phương Thoa - Như Phương");
    the first part that is not a name is the unit. No name at the start: ([], None).
    """
    names: list[str] = []
    rest: str | None = line.strip()
    while rest:
        m = _SPLIT_NAME.match(rest)
        if not m or not is_person_name(m.group("head").strip()):
            break
        names.append(m.group("head").strip())
        rest = m.group("rest")
    if not names:
        return [], None
    unit = _capitalize(rest) if rest else None
    return names, unit or None


def extract_author(text: str) -> tuple[str | None, str | None]:
    """(author, source unit) from the byline at the end of the bulletin.

    Reads the last few paragraphs upwards: "Nguồn: …" and parenthesised or office lines give
    the unit; "Tin, ảnh: …" or a line that starts with a person's name gives the author.
    Stops at the first line of prose. Co-authors are joined with ", ".
    """
    unit: str | None = None
    for para in reversed(_paragraphs(_tail(text))[-_SIGNATURE_PARAGRAPHS:]):
        if len(para.split()) > _MAX_BYLINE_WORDS:
            break
        if m := _SOURCE.match(para):
            unit = unit or _capitalize(m.group("unit"))
            continue
        if m := _CREDIT.match(para):
            names, own_unit = parse_byline(m.group("who"))
            if names:
                return ", ".join(names), own_unit or unit
            if is_unit(m.group("who")):  # "Tin: Phòng Văn hóa - Thông tin"
                return None, unit or _capitalize(m.group("who"))
            return _capitalize(m.group("who")), unit
        names, own_unit = parse_byline(para)
        if names:
            return ", ".join(names), own_unit or unit
        if m := _PARENTHESISED.match(para):
            unit = unit or _capitalize(m.group("inner"))
            continue
        if is_unit(para) and not para.endswith((".", ":", ";")):
            unit = unit or _capitalize(para)
            continue
        break
    return None, unit


# ---------------------------------------------------------------------------------------
# Locality

_TITLE_WEIGHT, _LEAD_WEIGHT, _BODY_WEIGHT = 3.0, 2.0, 1.0


def extract_locality(
    title: str, body: str = "", *, province_hint: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """(locality, province, province_current) of the district-level unit the bulletin is about.

    Mentions in the title count three times, in the lead twice, elsewhere once; a mention
    with its type word ("thành phố Sa Đéc") counts twice a bare name ("Sa Đéc"). See
    `index.locality.resolve_mentions` for how the unit is chosen and a name found in several
    provinces is settled.
    """
    paragraphs = _paragraphs(_head(body))
    sections: Sequence[tuple[str, float]] = [
        (title, _TITLE_WEIGHT),
        *((p, _LEAD_WEIGHT) for p in paragraphs[:1]),
        *((p, _BODY_WEIGHT) for p in paragraphs[1:]),
    ]
    found = resolve(sections, province_hint=province_hint)
    return found.locality, found.province, found.province_current


def extract_province_of(locality: str, title: str, body: str = "") -> tuple[str | None, str | None]:
    """(province, province_current) of a locality given by name, e.g. in a JSONL record.

    A name found in one province settles it; a name found in several is settled by the
    provinces the text mentions, else left unknown.
    """
    sections = [(title, _TITLE_WEIGHT), (_head(body), _BODY_WEIGHT)]
    province = province_of(locality, sections)
    if province is None:
        return None, None
    return province.name, province.current


def same_name(a: str, b: str) -> bool:
    """The same name, whatever the case, spacing or tone placement."""
    return match_key(" ".join(a.split())) == match_key(" ".join(b.split()))

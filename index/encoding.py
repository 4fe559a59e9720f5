"""Turn the bytes of a bulletin file into NFC text, or say clearly why not.

Order of trust: a byte-order mark; strict UTF-8 (what nearly every portal serves); UTF-16
without a BOM when the NUL pattern shows it; then the 8-bit Vietnamese encodings — Windows-1258
(which writes tone marks as separate combining characters, hence NFC after decoding) and the
legacy TCVN3 (ABC) font encoding — whichever reads as Vietnamese; charset-normalizer only when
none of those fits. Text that decodes but is the mojibake of a legacy font encoding is
converted when a table does it exactly (TCVN3) and refused otherwise (VNI).
"""

from __future__ import annotations

import codecs
import contextlib
import re
import unicodedata

from searcher.text import LETTER_RUN, TONE_MARKS

UNDECODABLE = "undecodable bytes (not UTF-8, UTF-16, or Windows-1258)"
BINARY = "binary file"
EMPTY = "empty file"
VNI = "legacy VNI font encoding (not converted)"


class DecodeError(ValueError):
    """The bytes are not text we can read; `reason` says why, for the rebuild summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------
# TCVN3 (TCVN 5712:1993 "ABC", fonts such as .VnTime)

_UNICODE_LOWER = "áàảãạăắằẳẵặâấầẩẫậéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵđ"
_TCVN3_LOWER = "¸µ¶·¹¨¾»¼½Æ©ÊÇÈÉËÐÌÎÏÑªÕÒÓÔÖÝ×ØÜÞãßáâä«èåæçé¬íêëìîóïñòô\xadøõö÷ùýúûüþ®"
# TCVN3 has code points for these capitals only; capitals with a tone are written with the
# lowercase code in an uppercase font (.VnTimeH), so we restore case from the word around it.
_TCVN3_UPPER = {"¡": "Ă", "¢": "Â", "£": "Ê", "¤": "Ô", "¥": "Ơ", "¦": "Ư", "§": "Đ"}
TCVN3_TABLE: dict[str, str] = {
    **dict(zip(_TCVN3_LOWER, _UNICODE_LOWER, strict=True)),
    **_TCVN3_UPPER,
}

# TCVN3 code points that are rare in real text: ă â ê ô ơ ư đ and the a-tones.
_TCVN3_TELLTALE = set("¨©ª«¬\xad®¡¢£¤¥¦§¸µ¶·¹¾»¼½ÆÊÇÈÉËÐÌÎÏÑÕÒÓÔÖÝ×ØÜÞ")
_TCVN3_IN_WORD = re.compile(
    f"[A-Za-z][{re.escape(''.join(sorted(_TCVN3_TELLTALE)))}]"
    f"|[{re.escape(''.join(sorted(_TCVN3_TELLTALE)))}][A-Za-z]"
)
# Vietnamese letters outside Latin-1: their presence means real Unicode Vietnamese.
_REAL_VIETNAMESE = re.compile(
    "[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9]"
)
# VNI writes a vowel followed by a mark character: "Vieät", "ñaø taïo", "ngöôøi".
_VNI_MARKS = "\xf8\xf9\xfb\xf5\xef\xe0\xe1\xe2\xe3\xe4\xe5\xe8\xe9\xea\xeb\xfa\xfc"
_VNI_PAIR = re.compile(
    f"[aeiouyAEIOUY][{_VNI_MARKS}{_VNI_MARKS.upper()}]|[\xf1\xd1\xf6\xd6\xf4\xd4][a-zA-Z{_VNI_MARKS}]"
)
_WORD = re.compile(r"\S+")
_LEGACY_SAMPLE = 64 * 1024


def _caps(word: str) -> bool | None:
    """Whether a word is written in capitals; None when its own letters cannot tell."""
    letters = [c for c in word if c.isalpha() and c not in TCVN3_TABLE]
    if not letters or not all(c.isupper() for c in letters):
        return False
    return True if len(letters) >= 2 else None  # "KỲ" or "Kỳ"? ask the neighbours


def convert_tcvn3(text: str) -> str:
    """TCVN3 mojibake (bytes read as Latin-1) to NFC Unicode, character for character.

    TCVN3 has no codes for capitals with a tone: they are the lowercase codes in an uppercase
    font ("HUYÖN" is "HUYỆN"), so a word written in capitals is upper-cased whole.
    """
    parts = re.split(r"(\s+)", text)
    words = parts[0::2]
    caps = [_caps(w) for w in words]
    out = []
    for i, word in enumerate(words):
        converted = "".join(TCVN3_TABLE.get(c, c) for c in word)
        upper = caps[i]
        if upper is None:
            upper = any(caps[j] for j in (i - 1, i + 1) if 0 <= j < len(caps))
        out.append(converted.upper() if upper else converted)
        if 2 * i + 1 < len(parts):
            out.append(parts[2 * i + 1])
    return unicodedata.normalize("NFC", "".join(out))


def legacy_encoding(text: str) -> str | None:
    """ "tcvn3" or "vni" when `text` is the mojibake of a legacy Vietnamese font, else None.

    Judged on the start of the text: real Vietnamese letters rule it out; otherwise enough
    words must carry the marks of one font's table.
    """
    sample = text[:_LEGACY_SAMPLE]
    if _REAL_VIETNAMESE.search(sample):
        return None
    words = _WORD.findall(sample)
    if not words:
        return None
    tcvn3_words = sum(1 for w in words if _TCVN3_IN_WORD.search(w))
    vni_words = sum(1 for w in words if _VNI_PAIR.search(w))
    threshold = max(2, len(words) // 10)
    if tcvn3_words >= threshold and tcvn3_words >= vni_words:
        return "tcvn3"
    if vni_words >= threshold:
        return "vni"
    return None


def fix_legacy(text: str) -> str:
    """Convert TCVN3 mojibake; raise DecodeError for VNI; leave other text alone."""
    kind = legacy_encoding(text)
    if kind == "tcvn3":
        return convert_tcvn3(text)
    if kind == "vni":
        raise DecodeError(VNI)
    return text


# ---------------------------------------------------------------------------------------
# Bytes to text

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.01


def sniff_bom(head: bytes) -> str | None:
    """The codec a byte-order mark announces, or None."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    return None


def _looks_like_text(text: str) -> bool:
    sample = text[:_SAMPLE]
    return len(_CONTROL.findall(sample)) <= _MAX_CONTROL_RATIO * max(1, len(sample))


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[: _SAMPLE & ~1]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    for codec, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) > 0.3 * len(zeros) and other.count(0) < 0.05 * len(other):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                return None
            return text if _looks_like_text(text) else None
    return None


# The vowel nuclei of Vietnamese syllables, tone marks removed.
_NUCLEI = (
    *("iêu", "yêu", "oai", "oay", "oao", "oeo", "uây", "uôi", "ươi", "ươu", "uya", "uyê", "uyu"),
    *("ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi"),
    *("ôi", "ơi", "ua", "uâ", "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ưu", "ươ", "yê", "oo"),
    *("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"),
)
# The shape of one Vietnamese syllable once its tone mark is removed.
_SYLLABLE = re.compile(
    r"^(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnpqrstvx])?"
    f"(?:{'|'.join(_NUCLEI)})"
    r"(?:ch|ng|nh|[cmnpt])?$"
)
_MIN_SYLLABLE_SHARE = 0.8


def _is_syllable(word: str) -> bool:
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(decomposed.count(t) for t in TONE_MARKS) > 1:
        return False
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
    return bool(_SYLLABLE.match(base))


def vietnamese_score(text: str) -> float:
    """Share of the words with non-ASCII letters that are well-formed Vietnamese syllables.

    Clean Vietnamese scores near 1.0; the same bytes read with the wrong 8-bit table give
    letters no syllable allows ("ngaèy", "ủaừ") and score low.
    """
    words = [w for w in LETTER_RUN.findall(text[:_SAMPLE]) if not w.isascii()]
    if not words:
        return 0.0
    return sum(map(_is_syllable, words)) / len(words)


def _eight_bit(data: bytes) -> str | None:
    """Windows-1258 or TCVN3, whichever reads as Vietnamese; None if neither does."""
    candidates = []
    with contextlib.suppress(UnicodeDecodeError):
        candidates.append(unicodedata.normalize("NFC", data.decode("cp1258")))
    if not any(0x80 <= b < 0xA0 for b in data[:_SAMPLE]):  # TCVN3 leaves these unused
        candidates.append(convert_tcvn3(data.decode("latin-1")))
    best_score, best = 0.0, None
    for text in candidates:  # Windows-1258 first: it wins a tie
        score = vietnamese_score(text)
        if score > best_score:
            best_score, best = score, text
    return best if best_score >= _MIN_SYLLABLE_SHARE else None


_UTF8_LEAD_BYTES = bytes(range(0xC2, 0xF5))
_MAX_BAD_UTF8 = 1 / 10_000  # a few damaged bytes in a UTF-8 file: keep it, mark the damage


def _mostly_utf8(data: bytes) -> str | None:
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    multibyte = len(data) - len(data.translate(None, _UTF8_LEAD_BYTES))
    if bad <= max(3, len(data) * _MAX_BAD_UTF8) and multibyte > 10 * bad:
        return text
    return None


# Encodings we accept from charset-normalizer: scripts a Vietnamese bulletin may be in.
_LATIN_ENCODINGS = frozenset(
    {"ascii", "utf_8", "utf_16", "utf_32", "cp1258", "cp1252", "latin_1", "iso8859_15"}
)


def _charset_normalizer(data: bytes) -> str | None:
    from charset_normalizer import from_bytes  # only odd files need it

    best = from_bytes(data, cp_isolation=sorted(_LATIN_ENCODINGS)).best()
    if best is None or best.encoding not in _LATIN_ENCODINGS:
        return None
    return str(best)


def decode_bytes(data: bytes) -> str:
    """NFC text from a whole file's bytes, or DecodeError with the reason to report."""
    if not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise DecodeError(EMPTY)
    codec = sniff_bom(data[:4])
    if codec:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{UNDECODABLE}: bad {codec} at byte {exc.start}") from None
    else:
        text = _decode_without_bom(data)
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        raise DecodeError(EMPTY)
    if not _looks_like_text(text):
        raise DecodeError(BINARY)
    return fix_legacy(text)


def _decode_without_bom(data: bytes) -> str:
    if b"\x00" in data[:_SAMPLE]:
        text = _utf16_without_bom(data)
        if text is None:
            raise DecodeError(BINARY)
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _mostly_utf8(data) or _eight_bit(data)
    if text is not None:
        return text
    if legacy_encoding(data[:_SAMPLE].decode("latin-1")) == "vni":
        raise DecodeError(VNI)
    text = _charset_normalizer(data)
    if text is None or not _looks_like_text(text):
        raise DecodeError(UNDECODABLE if _mostly_text_bytes(data) else BINARY)
    return text


def _mostly_text_bytes(data: bytes) -> bool:
    sample = data[:_SAMPLE]
    controls = sum(1 for b in sample if b < 0x20 and b not in b"\t\n\r\f")
    return controls <= _MAX_CONTROL_RATIO * len(sample)


def decode_line(line: bytes) -> str:
    """One line of a UTF-8 file (JSON Lines are UTF-8 by definition), NFC."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"undecodable bytes (not UTF-8) at byte {exc.start}") from None
    return unicodedata.normalize("NFC", text)

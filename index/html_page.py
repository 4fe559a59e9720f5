"""Read an HTML page: the article text by trafilatura, the byline from the page itself."""

from __future__ import annotations

from collections.abc import Iterator

from index.bulletin import Skipped
from index.extract import clean_title, extract_author, is_person_name, parse_byline
from index.portal import clean_paragraphs
from index.records import Given, Record, iso_date, make_bulletin, refuse_too_long

# trafilatura's options: the article with its tables, no comments or images; the date the page
# states, without a costly search of the whole page.
_EXTRACTION = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}


def read_html(source: str, text: str, id: str) -> Iterator[Record]:
    """The article of one page as bulletin ``id``, or why there is none."""
    try:
        import trafilatura  # heavy; only HTML needs it
    except ImportError as exc:
        yield Skipped(source, f"cannot read HTML: trafilatura is unavailable ({exc})")
        return
    doc = trafilatura.bare_extraction(text, **_EXTRACTION)
    if doc is None or not (doc.text or "").strip():
        yield Skipped(source, "no article found")
        return
    paragraphs, text_captions = clean_paragraphs(doc.text.splitlines())
    captions = [*_figure_captions(text), *text_captions]
    paragraphs = [p for p in paragraphs if p not in captions]  # trafilatura kept some
    title = clean_title(doc.title or "") or (paragraphs[0] if paragraphs else None)
    if paragraphs and title and clean_title(paragraphs[0]) == title:
        paragraphs = paragraphs[1:]
    if not title or not paragraphs:
        yield Skipped(source, "no article found")
        return
    if too_long := refuse_too_long(source, title, paragraphs):
        yield too_long
        return
    author, unit = extract_author("\n".join(paragraphs))
    if author is None:
        author, unit = _byline_from_html(text, doc.author)
    date = iso_date(doc.date)
    yield make_bulletin(
        id=id,
        title=title,
        paragraphs=paragraphs,
        source=source,
        given=Given(
            date=date,
            has_date=date is not None,
            author=author,
            source_unit=unit,
            url=doc.url or None,
        ),
        captions=captions,
    )


# Elements that hold a photo's caption in saved portal pages: <figcaption>, and the caption
# classes of the common portal software ("image-caption", "PhotoCMS_Caption", "pic-caption").
_CAPTION_XPATH = (
    "//figcaption"
    " | //*[contains(translate(@class, 'CAPTION', 'caption'), 'caption')]"
    " [not(.//figcaption)]"
)
_CAPTION_MAX_WORDS = 40


def _figure_captions(html: str) -> list[str]:
    """The photo captions the page marks as such; trafilatura drops figures with images."""
    from lxml import html as lxml_html  # trafilatura's own dependency

    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    captions: list[str] = []
    for element in root.xpath(_CAPTION_XPATH):
        text = " ".join(element.text_content().split())
        if text and len(text.split()) <= _CAPTION_MAX_WORDS:
            captions.append(text)
    return captions


def _byline_from_html(html: str, meta_author: str | None) -> tuple[str | None, str | None]:
    """Author and unit from the page's byline, which trafilatura keeps out of the text.

    trafilatura's author field splits a byline at dashes and commas ("Minh Tâm; Thể thao
    …"), so we find the line it came from in the page and read that line ourselves.
    """
    names = [n.strip() for n in (meta_author or "").split(";") if n.strip()]
    if not names or not is_person_name(names[0]):
        return None, None
    from lxml import html as lxml_html  # trafilatura's own dependency

    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return names[0], None
    for element in root.iter("p", "div", "span", "em", "strong", "b", "i", "td", "address"):
        line = " ".join(element.text_content().split())
        if line.startswith(names[0]) and len(line) <= 200:
            found, unit = parse_byline(line)
            if found:
                return ", ".join(found), unit
    return names[0], None

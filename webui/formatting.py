"""Jinja filters: formatting only (Vietnamese numbers and dates, XML-safe text), never URLs."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Flask
from markupsafe import Markup

#: Characters XML 1.0 forbids; a stray one in a bulletin would make the whole feed unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: Any) -> Any:
    """Drop characters XML 1.0 cannot carry, keeping Markup as Markup."""
    if value is None:
        return ""
    cleaned = _XML_INVALID.sub("", str(value))
    return Markup(cleaned) if isinstance(value, Markup) else cleaned


def vi_int(value: int) -> str:
    """1234567 → "1.234.567" (Vietnamese groups thousands with dots)."""
    return f"{int(value):,}".replace(",", ".")


def vi_decimal(value: float, digits: int = 1) -> str:
    """4.1 → "4,1" (Vietnamese decimal comma)."""
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def vi_date(value: str | None) -> str:
    """ISO "2022-07-05" → "05/07/2022"; anything else as given."""
    if not value:
        return ""
    try:
        return date.fromisoformat(value[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return value


def init_app(app: Flask) -> None:
    """Give the templates these filters."""
    app.jinja_env.filters.update(
        xml_text=xml_text, vi_int=vi_int, vi_decimal=vi_decimal, vi_date=vi_date
    )

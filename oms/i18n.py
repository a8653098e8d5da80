"""The shopper's language and how dates and money read in it: the one helper every shopper
page and e-mail uses (the tracking page, the return pages, the subscription page, the e-mails).

Invariants:
- the shopper languages are LANGUAGES in settings (en, de, fr, nl, es); anything else (an
  unknown or empty code, "pt-BR") reads as English, the default;
- a language code is normalised to its base ("de-AT", "de_at" -> "de") before it is checked;
- dates and amounts are written for the active language (`translation.override`), with CLDR's
  formats through Babel: "7. Dezember 2026", "1.234,56 €" in German, "7 December 2026",
  "€1,234.56" in English; aware datetimes are shown in the site's time zone first;
- staff pages are never translated: only shopper pages and e-mails activate a language.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation

DEFAULT_LANGUAGE = "en"
#: Babel's locale per shopper language (English as in Britain: "7 December 2026").
BABEL_LOCALES = {"en": "en_GB", "de": "de_DE", "fr": "fr_FR", "nl": "nl_NL", "es": "es_ES"}
#: Where the English pages keep their own look: "Thursday 3 December 2026" (CLDR puts a comma).
PATTERNS = {
    ("en_GB", "full"): "EEEE d MMMM y",
    ("en_GB", "short_weekday_year"): "EEE d MMM y",
}


def language_codes() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def language_normalise(code: object) -> str:
    """A shipped language's code for `code` ("de-AT" -> "de"), or "" when none fits."""
    if not isinstance(code, str):
        return ""
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return base if base in language_codes() else ""


def babel_locale() -> str:
    """Babel's locale of the active language (English when none or an unknown one is active)."""
    return BABEL_LOCALES.get(language_normalise(translation.get_language()) or "en", "en_GB")


def _local(value: dt.date | dt.datetime) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_day(value: dt.date | dt.datetime | None, style: str = "long") -> str:
    """A date in the active language: "long" (7 December 2026), "full" (with the weekday),
    "short_weekday" (Mon 7 Dec), "short_weekday_year" (Mon, 7 Dec 2026)."""
    from babel.dates import format_date, format_skeleton

    if value is None or value == "":
        return ""
    day = _local(value)
    locale = babel_locale()
    if (locale, style) in PATTERNS:
        plain = day.date() if isinstance(day, dt.datetime) else day
        return format_date(plain, format=PATTERNS[(locale, style)], locale=locale)
    if style in ("short_weekday", "short_weekday_year"):
        skeleton = "MMMEd" if style == "short_weekday" else "yMMMEd"
        return format_skeleton(skeleton, day, locale=locale)
    if isinstance(day, dt.datetime):
        day = day.date()
    return format_date(day, format=style, locale=locale)


def format_moment(value: dt.datetime | None) -> str:
    """A moment in the active language: "Thu 26 Nov, 14:05" ("Do., 26. Nov., 14:05")."""
    from babel.dates import format_skeleton, format_time

    if value is None:
        return ""
    moment = timezone.localtime(value) if timezone.is_aware(value) else value
    locale = babel_locale()
    day = format_skeleton("MMMEd", moment, locale=locale)
    return f"{day}, {format_time(moment, 'short', locale=locale)}"


def format_money(amount: Decimal | str | int | None, currency: str) -> str:
    """An amount in the active language's format: "€1,234.56", "1.234,56 €"."""
    from oms.money import money_display

    if amount is None or amount == "":
        return ""
    return money_display(Decimal(str(amount)), currency, locale=babel_locale())

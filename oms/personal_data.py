"""Anonymising a person's values out of free text and stored JSON (channel payloads, timelines).

Invariants:
- `Scrubber.json` returns a copy with the same shape: keys are kept, only values change, so a
  payload still reads (ids, amounts, SKUs, statuses, countries stay);
- what is erased: every value under a key that names personal data (PERSONAL_KEYS: e-mails,
  phones, names, street lines, postcodes, coordinates, IP addresses), every leaf of a subtree
  that is an address or a person (PERSON_KEYS, or any object shaped like an address) except
  its country, and every string that is, or contains, one of the person's own values (the
  needles: e-mail, phone, names, street lines, ...);
- a needle of MIN_SUBSTRING characters or more is replaced wherever it appears; a shorter one
  (a short first name) only as a whole word; a city or a postcode only as a whole value, so
  that neither mangles unrelated text;
- erased strings become ERASED, erased numbers None; empty values stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ERASED = "[erased]"
#: Needles at least this long are also replaced inside longer strings.
MIN_SUBSTRING = 6

PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "customer_email",
        "buyer_email",
        "buyeremail",
        "billing_email",
        "phone",
        "phone_number",
        "phonenumber",
        "mobile",
        "first_name",
        "firstname",
        "given_name",
        "givenname",
        "last_name",
        "lastname",
        "family_name",
        "familyname",
        "full_name",
        "fullname",
        "buyer_name",
        "buyername",
        "recipient",
        "recipient_name",
        "company",
        "address1",
        "address2",
        "address_line1",
        "address_line2",
        "addressline1",
        "addressline2",
        "line1",
        "line2",
        "street",
        "street1",
        "street2",
        "zip",
        "postcode",
        "postal_code",
        "postalcode",
        "latitude",
        "longitude",
        "lat",
        "lng",
        "browser_ip",
        "client_ip",
        "ip_address",
        "note",
        "notes",
        "customer_note",
        "buyer_note",
    }
)
#: Objects that describe a person or their address: every leaf goes (but the country).
PERSON_KEYS = frozenset(
    {
        "customer",
        "buyer",
        "buyer_info",
        "buyerinfo",
        "shipping_address",
        "shippingaddress",
        "billing_address",
        "billingaddress",
        "default_address",
        "addresses",
        "ship_to",
        "shipto",
        "shipping",
        "billing",
        "recipient",
        "client_details",
        "clientdetails",
        "fulfillment_address",
    }
)
#: Kept in an erased address: it is not personal alone and reports count by it.
COUNTRY_KEYS = frozenset({"country", "country_code", "countrycode", "country_name"})
ADDRESS_MARKERS = frozenset(
    {"line1", "address1", "addressline1", "street", "postal_code", "zip", "postcode", "city"}
)


def _norm(key: Any) -> str:
    return str(key).strip().lower()


def _looks_like_address(value: Mapping[Any, Any]) -> bool:
    return len(ADDRESS_MARKERS & {_norm(k) for k in value}) >= 2


class Scrubber:
    """Erases one person's values. `values` are theirs (e-mail, phone, names, street lines,
    company); `whole_only` (city, postcode, ...) are only matched as entire values."""

    def __init__(self, values: Iterable[Any], whole_only: Iterable[Any] = ()) -> None:
        texts = {str(v).strip() for v in values if v is not None and str(v).strip()}
        whole = {str(v).strip() for v in whole_only if v is not None and str(v).strip()}
        self.exact = {t.casefold() for t in texts | whole}
        ordered = sorted(texts, key=len, reverse=True)
        parts = [
            re.escape(t) if len(t) >= MIN_SUBSTRING else rf"(?<!\w){re.escape(t)}(?!\w)"
            for t in ordered
            if len(t) >= 2
        ]
        self.pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def text(self, value: str) -> str:
        """A free text with the person's values replaced."""
        if not value:
            return value
        if value.strip().casefold() in self.exact:
            return ERASED
        if self.pattern is not None:
            return self.pattern.sub(ERASED, value)
        return value

    def json(self, value: Any) -> Any:
        """A stored JSON value, scrubbed (see the module docstring)."""
        return self._walk(value, erase_all=False)

    def _walk(self, value: Any, *, erase_all: bool) -> Any:
        if isinstance(value, Mapping):
            erase_here = erase_all or _looks_like_address(value)
            out = {}
            for key, item in value.items():
                name = _norm(key)
                if name in COUNTRY_KEYS and not isinstance(item, Mapping | list):
                    out[key] = item
                elif erase_here or name in PERSON_KEYS or name in PERSONAL_KEYS:
                    out[key] = self._walk(item, erase_all=True)
                else:
                    out[key] = self._walk(item, erase_all=False)
            return out
        if isinstance(value, list | tuple):
            return [self._walk(item, erase_all=erase_all) for item in value]
        if erase_all:
            if isinstance(value, str):
                return ERASED if value else value
            if isinstance(value, bool) or value is None:
                return value
            return None
        if isinstance(value, str):
            return self.text(value)
        return value


def erased_email(pk: int) -> str:
    """The address an erased customer keeps: unique (the e-mail is unique) and undeliverable."""
    return f"erased-{pk}@erased.invalid"

"""The routing explanation, readable: the table of a decision (on its page, the shipment's
page and the order page's inline).
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

from fulfilment.services.routing import UNLIMITED

PRECISION_LABELS = {
    "exact": "exact coordinates",
    "zip": "postal code",
    "postal_prefix": "postal code prefix",
    "city": "city",
    "region": "region",
    "country": "country centre",
    "unplaced": "could not be placed",
}


def _explanation_context(explanation: Any) -> dict[str, Any] | None:
    """The stored explanation (fulfilment.services.routing._explain) as rows for a template."""
    if not isinstance(explanation, dict) or not explanation:
        return None
    destination = explanation.get("destination") or {}
    precision = str(destination.get("precision") or "")
    candidates = []
    for row in explanation.get("candidates") or []:
        if not isinstance(row, dict):
            continue
        status = str(row.get("status") or "")
        available = row.get("available") or {}
        candidates.append(
            {
                "location": row.get("location", ""),
                "distance_km": row.get("distance_km"),
                "priority": row.get("priority"),
                "available": [
                    (sku, "unlimited" if isinstance(n, int) and n >= UNLIMITED else n)
                    for sku, n in sorted(available.items())
                ]
                if isinstance(available, dict)
                else [],
                "status": status,
                "chosen": status == "chosen",
                "rejected": status.startswith("rejected"),
            }
        )
    choice = explanation.get("choice") or {}
    return {
        "trigger": explanation.get("trigger", ""),
        "kind": choice.get("kind", ""),
        "reason": choice.get("reason", ""),
        "destination": " ".join(
            str(destination.get(k) or "") for k in ("country", "postal_code") if destination.get(k)
        ),
        "precision": PRECISION_LABELS.get(precision, precision),
        "note": destination.get("note", ""),
        "rules": [str(r) for r in explanation.get("rules") or []],
        "max_shipments": explanation.get("max_shipments"),
        "candidates": candidates,
        "short": [s for s in explanation.get("short") or [] if isinstance(s, dict)],
    }


def explanation_html(explanation: Any, *, compact: bool = False) -> SafeString:
    """The routing explanation as an accessible table (the template escapes every value)."""
    context = _explanation_context(explanation)
    if context is None:
        return format_html("<p>{}</p>", "No explanation was recorded.")
    return SafeString(
        render_to_string(
            "admin/fulfilment/includes/explanation.html", {"x": context, "compact": compact}
        )
    )

"""The back office's home: what needs doing today, and the way to every station.

The admin site lives in the kernel, which imports no app: each app's admin registers what its
staff should see first (`home_tile`: a figure with a link to the list it counts; `home_link`:
a station such as the pack station; `home_panel`: a small chart), and the home shows those the
user may see, by section, in the order the sections are declared here. A tile whose figure is
not zero and whose tone is "attention" stands out: it is work waiting for someone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

logger = logging.getLogger(__name__)

#: The home's sections, in the order a shift reads them.
SECTIONS = (
    "Orders",
    "Warehouse",
    "Stock",
    "Returns",
    "Subscriptions",
    "Channels",
    "Integrations",
    "Reports",
)


@dataclass(frozen=True)
class Tile:
    section: str
    title: str
    count: Callable[[], int]
    url: Callable[[], str]
    permission: str
    #: "attention": a figure above zero is work waiting; "info": a figure to know.
    tone: str = "attention"
    help: str = ""


@dataclass(frozen=True)
class Link:
    section: str
    title: str
    url: Callable[[], str]
    permission: str
    help: str = ""


@dataclass(frozen=True)
class Panel:
    section: str
    title: str
    render: Callable[[HttpRequest], SafeString]
    permission: str


_tiles: list[Tile] = []
_links: list[Link] = []
_panels: list[Panel] = []


def _check(section: str) -> None:
    if section not in SECTIONS:
        raise ValueError(f"Unknown home section {section!r}: one of {', '.join(SECTIONS)}.")


def home_tile(tile: Tile) -> None:
    _check(tile.section)
    if tile not in _tiles:
        _tiles.append(tile)


def home_link(link: Link) -> None:
    _check(link.section)
    if link not in _links:
        _links.append(link)


def home_panel(panel: Panel) -> None:
    _check(panel.section)
    if panel not in _panels:
        _panels.append(panel)


def _count(tile: Tile) -> int | None:
    try:
        return int(tile.count())
    except Exception:  # one broken figure must not take the home down
        logger.exception("Home tile %r could not be counted", tile.title)
        return None


def home_context(request: HttpRequest) -> dict[str, Any]:
    """The sections the user may see: each with its tiles (counted now), links and panels."""
    user: Any = request.user
    sections: list[dict[str, Any]] = []
    for name in SECTIONS:
        tiles = [
            {
                "title": t.title,
                "count": _count(t),
                "url": t.url(),
                "tone": t.tone,
                "help": t.help,
            }
            for t in _tiles
            if t.section == name and user.has_perm(t.permission)
        ]
        for tile in tiles:
            tile["urgent"] = tile["tone"] == "attention" and bool(tile["count"])
        links = [
            {"title": x.title, "url": x.url(), "help": x.help}
            for x in _links
            if x.section == name and user.has_perm(x.permission)
        ]
        panels = [
            {"title": p.title, "html": p.render(request)}
            for p in _panels
            if p.section == name and user.has_perm(p.permission)
        ]
        if tiles or links or panels:
            sections.append({"name": name, "tiles": tiles, "links": links, "panels": panels})
    return {"home_sections": sections}


def link_html(url: str, text: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', url, text)

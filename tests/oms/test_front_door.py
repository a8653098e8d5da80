"""The front door at `/`, the favicon, and the admin's "View site" link."""

from __future__ import annotations

import pytest
from django.test import Client


def test_the_front_door_says_what_this_is_and_links_the_ways_in(client: Client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Order management for e-commerce" in page
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/api/schema/"', 'href="/healthz"'):
        assert link in page
    assert client.post("/").status_code == 405


def test_the_favicon_is_served_at_the_root(client: Client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


@pytest.mark.django_db
def test_view_site_in_the_back_office_goes_to_the_front_door(admin_client: Client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/"' in page  # "View site"
    assert admin_client.get("/").status_code == 200

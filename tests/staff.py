"""Users of each role for the permission tests: an API client by token, a logged-in admin
client. Without a password (hashing one costs more than the request under test)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oms.roles import INTEGRATOR

SUPERUSER = "superuser"


def user_of(role: str, *, perms: Iterable[Permission] = ()) -> Any:
    """A new user in the group `role` ("superuser": a superuser; "": no group)."""
    model = get_user_model()
    user = model.objects.create(
        username=f"{role or 'user'}-{model.objects.count() + 1}".replace(" ", "-"),
        is_staff=role != INTEGRATOR,
        is_superuser=role == SUPERUSER,
    )
    if role and role != SUPERUSER:
        user.groups.add(Group.objects.get(name=role))
    user.user_permissions.add(*perms)
    return user


def api_client_of(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def admin_client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client

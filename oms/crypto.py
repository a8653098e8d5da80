"""Symmetric encryption of secrets stored in the database (channel credentials).

Invariant: ciphertext only ever leaves this module; the key comes from OMS_CREDENTIALS_KEY (a
Fernet key) or, when unset, is derived from SECRET_KEY, so a database dump alone reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> Fernet:
    key = settings.OMS_CREDENTIALS_KEY
    if not key:
        digest = hashlib.sha256(("oms-credentials:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    try:
        return Fernet(key)
    except ValueError:
        raise ImproperlyConfigured("OMS_CREDENTIALS_KEY must be a Fernet key") from None


def encrypt_json(value: dict[str, Any]) -> str:
    if not value:
        return ""
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return dict(json.loads(_fernet().decrypt(token.encode())))
    except InvalidToken:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted: OMS_CREDENTIALS_KEY or SECRET_KEY changed"
        ) from None

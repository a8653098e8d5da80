"""Domain errors raised by services and mapped to problem JSON by the API.

Invariant: every error a service raises carries a stable machine-readable `code`; external calls
raise only TransientError (safe to retry) or PermanentError (mark failed, do not retry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of every business error. `status` is the HTTP status the API answers with."""

    status = 400
    code = "domain_error"
    title = "Request could not be processed"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.errors = {key: list(value) for key, value in (errors or {}).items()}
        super().__init__(self.detail)

    def __str__(self) -> str:
        if not self.errors:
            return self.detail
        fields = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in self.errors.items())
        return f"{self.detail} ({fields})"


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Transition not allowed"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Insufficient stock"


class OrderOnHold(Conflict):
    """Fulfilment of an order with an active hold (API.md: 409 `order_on_hold`)."""

    code = "order_on_hold"
    title = "Order on hold"


class ChannelInactive(Conflict):
    """An order for a channel that is switched off (API.md: 409 `channel_inactive`)."""

    code = "channel_inactive"
    title = "Channel inactive"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    title = "A request with this idempotency key is still being processed"


class ExternalError(Exception):
    """An error from an external system (channel, carrier, 3PL, rates source)."""


class TransientError(ExternalError):
    """Worth retrying: timeouts, 429, 5xx, connection resets."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ExternalError):
    """Retrying will not help: rejected credentials, a 4xx that names bad data."""

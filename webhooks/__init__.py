"""Integrator webhooks and the events feed: every change pushed to subscribers, signed,
retried, in order (issue 19).

The top layer: it listens to the domain events of every app below (oms.events) and records an
`Event` (its type, the object's API representation and a per-object sequence number) in the
transaction of the change that raised it; each active `WebhookEndpoint` subscribed to its type
gets a `WebhookDelivery`, sent through the outbox (oms.outbox) after commit, signed per the
Standard Webhooks specification, retried over about three days. Pull-based integrators read the
same events at `GET /api/v1/events/?after=<cursor>`.

Invariants:
- an event exists if and only if the change that raised it committed; its sequence is
  gap-free and increasing per object (a counter row locked until commit);
- a delivery keeps its `webhook-id` across retries and redeliveries;
- a secret is shown once (when created or rotated), stored encrypted (oms.crypto), never
  answered again;
- an endpoint's URL never aims at loopback, private, link-local or reserved addresses unless
  OMS_WEBHOOKS_ALLOW_PRIVATE is set (checked when it is saved and before every delivery).
"""

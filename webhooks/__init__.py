"""Integrator webhooks and the events feed: every change pushed to subscribers, signed,
retried, in order (issue 19).

The top layer: it listens to the domain events of every app below (oms.events). In the
transaction of the change it writes nothing but an outbox message per event
(`webhooks.event_record`, webhooks.subscribers), which joins that transaction's other messages
in one INSERT on the hot paths; the worker that runs it records the `Event` (its type, the
object's API representation, what changed and a per-object sequence number,
webhooks.services.recording), and each active `WebhookEndpoint` subscribed to its type gets a
`WebhookDelivery`, sent through the outbox after commit, signed per the Standard Webhooks
specification, retried over about three days. Pull-based integrators read the same events at
`GET /api/v1/events/?after=<cursor>` once the worker recorded them.

Invariants:
- an event exists if and only if the change that raised it committed, and is recorded at least
  once even when the broker is down (the outbox); its sequence is its outbox message's id:
  increasing per object in commit order (the object's changes are serialised by its row lock),
  not gap-free; a message run twice records one event;
- a delivery keeps its `webhook-id` across retries and redeliveries;
- a secret is shown once (when created or rotated), stored encrypted (oms.crypto), never
  answered again;
- an endpoint's URL never aims at loopback, private, link-local or reserved addresses unless
  OMS_WEBHOOKS_ALLOW_PRIVATE is set (checked when it is saved and before every delivery).
"""

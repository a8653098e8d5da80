"""The fulfilment back office: the shipment queue, pick lists, the pack station, packing slips,
routing configuration and every routing decision explained.

Invariants:
- the admin never writes a shipment, a line or a parcel itself: the list actions and the pack
  station call fulfilment.services, one call per shipment (a re-route cancels and routes in one
  transaction), and a DomainError is reported for that shipment, never a 500; one failing
  shipment never stops the others;
- shipments are never added, edited or deleted here; status and quantities are read-only;
- printing a pick list or a packing slip changes nothing; a held order's shipments are left
  off the pick list, and the pack station refuses them before the first scan (the services
  refuse them anyway: 409 `order_on_hold`, reported like any DomainError);
- the list filters shipments by their order's hold ("Order on hold"); a held order's open
  shipments carry the hold flag in the attention column (fulfilment.services.holds);
- the pack station records nothing until the last step: scans are checked against what the
  shipment holds and kept in a signed token in the page; a refused scan changes nothing;
- the commands (actions, pack station) need fulfilment.change_shipment; viewing needs view;
- the shipment list is built in a constant number of queries whatever the number of rows;
- the order page gets the shipments and routing decisions as read-only inlines added from here
  (orders is a lower layer and never imports fulfilment).

Routing configuration (rules, centroids, schedules, transit times, holidays) is plain admin
configuration: it is saved by the ModelAdmins and read by routing and the delivery promise.

One module a screen: `shipments` (the queue, a shipment's page), `shipment_actions`,
`pack_station`, `inlines` (also on the order page), `explanation`, `routing_decisions`,
`routing_rules`, `routing_inputs` (centroids, schedules, transit times, holidays), `timeline`
(fulfilment's sentences on the order page's timeline), and the
carriers' `labels`, `tracking` and the 3PL `partners`, which add their parts to the shipment
page. Importing the package registers them all.
"""

from fulfilment.admin import inlines, routing_decisions, routing_inputs, routing_rules, shipments

inlines.attach_to_order_page()

# The carriers' labels, tracking and the 3PL partners extend the shipment page registered above.
from fulfilment.admin import labels, partners, timeline, tracking  # noqa: E402

__all__ = [
    "labels",
    "partners",
    "routing_decisions",
    "routing_inputs",
    "routing_rules",
    "shipments",
    "timeline",
    "tracking",
]

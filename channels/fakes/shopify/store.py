"""FakeShopifyStore: the fake's HTTP face (one Admin API endpoint, token check, THROTTLED on
demand, the cost extension) dispatching each GraphQL document to its query or mutation."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from channels.fakes.shopify.data import error_answer
from channels.fakes.shopify.mutations import StoreMutations

API_PATH = "/admin/api/2026-04/graphql.json"


class FakeShopifyStore(StoreMutations):
    """An in-memory Shopify store. See channels.fakes.shopify."""

    # --- HTTP ---------------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one Admin API request (usable as httpx.MockTransport(store.handler))."""
        with self._lock:
            self.requests += 1
            if request.method != "POST" or request.url.path != API_PATH:
                return httpx.Response(404, json={"errors": "Not Found"})
            token = request.headers.get("X-Shopify-Access-Token", "")
            if not token or (self.access_token and token != self.access_token):
                return httpx.Response(
                    401,
                    json={
                        "errors": "[API] Invalid API key or access token "
                        "(unrecognized login or wrong password)"
                    },
                )
            try:
                body = json.loads(request.content)
            except ValueError:
                return httpx.Response(400, json={"errors": "Bad Request"})
            query = str(body.get("query") or "") if isinstance(body, dict) else ""
            variables = body.get("variables") if isinstance(body, dict) else None
            variables = variables if isinstance(variables, dict) else {}
            if self.throttle_next > 0:
                self.throttle_next -= 1
                answer = error_answer("Throttled", "THROTTLED")
                answer["extensions"] = self._cost(requested=900, available=120.0)
                return httpx.Response(200, json=answer)
            answer = self._dispatch(query, variables)
            answer.setdefault("extensions", self._cost())
            return httpx.Response(200, json=answer)

    @staticmethod
    def _cost(requested: int = 50, available: float = 1950.0) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None if available < requested else requested,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0,
                },
            }
        }

    def _dispatch(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "inventorySetQuantities(" in query:
            return self._set_quantities(query, variables)
        if "fulfillmentCreate(" in query:
            return self._fulfillment_create(variables)
        if "orderCancel(" in query:
            return self._order_cancel(variables)
        if "refundCreate(" in query:
            return self._refund_create(query, variables)
        if "productVariants(" in query:
            return self._variants(variables)
        if re.search(r"\borders\(", query):
            if self.auto_tick:
                self.tick()
            return self._orders_page(query, variables)
        if "fulfillmentOrders(" in query:
            return self._fulfillment_orders(variables)
        if "transactions(" in query:
            return self._transactions(variables)
        if "lineItems(" in query and re.search(r"\border\(", query):
            return self._more_lines(query, variables)
        return error_answer("The fake Shopify store does not know this query.", "BAD_REQUEST")

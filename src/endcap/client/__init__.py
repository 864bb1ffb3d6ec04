"""A typed Python client for the Endcap API (httpx).

    with EndcapClient("http://127.0.0.1:8000", api_key) as endcap:
        me = endcap.me()

Every non-2xx answer raises :class:`EndcapAPIError` carrying the problem
details the server sent.
"""

from endcap.client.marketplace import MarketplaceCalls
from endcap.client.retailer import RetailerCalls
from endcap.client.transport import EndcapAPIError

__all__ = ["EndcapAPIError", "EndcapClient"]


class EndcapClient(RetailerCalls, MarketplaceCalls):
    """Every call of the API, grouped by who makes them (retailer.py, marketplace.py)."""

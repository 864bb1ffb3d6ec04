"""Endcap: retail media on a retailer's own customer data."""

__version__ = "0.1.0"

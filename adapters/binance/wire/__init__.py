"""The Binance USD-M wire protocol: payloads, requests, signing and errors, with no network."""

from .codec import dumps, loads

__all__ = ["dumps", "loads"]

"""The consent ledger: append-only grants and withdrawals per purpose."""

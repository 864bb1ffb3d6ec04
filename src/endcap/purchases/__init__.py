"""Transaction lines: what was bought, when, where, and by whom (if known)."""

"""Idempotency-Key on POSTs that create something: a retry gets the first answer back."""

IDEMPOTENT: dict[str, object] = {"idempotent": True}  # a handler's opt: honour Idempotency-Key

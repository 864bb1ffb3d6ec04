"""Idempotency-Key on POSTs that create or start something: a retry gets the first answer back."""

IDEMPOTENT: dict[str, object] = {"idempotent": True}  # a handler's opt: honour Idempotency-Key
# The same for a route whose body is an upload: it streams to the route, hashed on the way,
# and is never held whole (see middleware.py). The route must read its body.
STREAMED = "streamed"
IDEMPOTENT_UPLOAD: dict[str, object] = {"idempotent": STREAMED}

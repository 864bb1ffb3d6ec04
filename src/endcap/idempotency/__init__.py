"""Idempotency-Key on POSTs that create or start something: a retry gets the first answer back."""

IDEMPOTENT: dict[str, object] = {"idempotent": True}  # a handler's opt: honour Idempotency-Key
# The same for a route whose body is an upload: it streams to the route, hashed on the way,
# and is never held whole (see middleware.py). The route must read its body.
STREAMED = "streamed"
IDEMPOTENT_UPLOAD: dict[str, object] = {"idempotent": STREAMED}
# An answer that carries a secret shown once (a new API key's): the record keeps all but
# these top-level fields, and a retry gets them as null. A secret must not sit in the
# database in plain text for the record's lifetime, and cannot be shown twice.
HIDDEN_FIELDS = "hidden_fields"


def idempotent_hiding(*fields: str) -> dict[str, object]:
    """The ``opt`` of an idempotent route whose answer's ``fields`` are never recorded."""
    return {**IDEMPOTENT, HIDDEN_FIELDS: fields}

import uuid


def unique(name: str) -> str:
    """A name no other test uses, so tests sharing the run's database stay independent."""
    return f"{name} {uuid.uuid4().hex[:8]}"

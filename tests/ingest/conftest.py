"""Each ingest test gets its own fresh database (see tests/ingest/support.py)."""

from tests.ingest.support import db, template_url

__all__ = ["db", "template_url"]

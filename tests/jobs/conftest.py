"""Worker tests run on a database of their own: the shared test server's in-process
worker would otherwise claim their jobs (see tests/ingest/support.py)."""

from tests.ingest.support import db, template_url

__all__ = ["db", "template_url"]

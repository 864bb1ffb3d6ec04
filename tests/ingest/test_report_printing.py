"""What ``endcap ingest`` prints of a load's report."""

from __future__ import annotations

import io

from rich.console import Console

from endcap.ingest.command import print_report
from endcap.ingest.schemas import IngestReport


def _printed(**fields: object) -> str:
    report = IngestReport.model_validate(
        {
            "id": "00000000-0000-0000-0000-000000000001",
            "entity": "transactions",
            "source_name": "transactions.csv",
            "status": "loaded",
            "rows_read": 10,
            "rows_inserted": 7,
            "rows_updated": 0,
            "rows_rejected": 0,
            "chunks": 1,
            "file_format": "csv",
            "rejections": [],
            "error": None,
            "started_at": "2026-11-25T00:00:00Z",
            "finished_at": "2026-11-25T00:00:01Z",
            **fields,
        }
    )
    out = io.StringIO()
    print_report(report, Console(file=out, width=200, color_system=None))
    return out.getvalue()


def test_suppressed_rows_of_erased_shoppers_are_printed() -> None:
    assert "3 rows of erased shoppers suppressed" in _printed(rows_suppressed=3)
    assert "suppressed" not in _printed()

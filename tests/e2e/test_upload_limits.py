"""An upload past the size cap is refused with 413 and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import ServerProcess


def test_upload_larger_than_the_cap_is_413(
    database_url: str, admin_key: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    server = ServerProcess(
        {
            "ENDCAP_DATABASE_URL": database_url,
            "ENDCAP_INGEST_MAX_UPLOAD_BYTES": "4096",
            "ENDCAP_INGEST_SPOOL_DIR": str(spool),
        },
        tmp_path / "server.log",
    ).start()
    try:
        big = "store_id,name\n" + "".join(f"S{i},Store number {i}\n" for i in range(2000))
        response = httpx.post(
            f"{server.base_url}/api/v1/ingest/stores",
            headers={"Authorization": f"Bearer {admin_key}"},
            files={"data": ("stores.csv", big.encode())},
            timeout=30,
        )
    finally:
        server.stop()

    assert response.status_code == 413
    assert response.json()["type"] == "urn:endcap:problem:payload-too-large"
    assert not spool.exists() or not any(spool.iterdir())

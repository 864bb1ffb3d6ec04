"""Any ASGI app factory under uvicorn, started exactly as ``tests.support.server`` starts Endcap.

``ServerProcess`` hard-codes ``endcap.app:create_app``; the benchmark needs the
same command line for its bare baseline, so this subclass only swaps the
target (and the readiness path) and keeps every flag.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import ServerProcess

ENDCAP_TARGET = "endcap.app:create_app"


class AppServer(ServerProcess):
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        target: str = ENDCAP_TARGET,
        ready_path: str = "/health/ready",
        drop_env: tuple[str, ...] = (),
        workers: int = 1,
    ) -> None:
        """``drop_env``: inherited variables to unset unless ``env`` sets them."""
        super().__init__(env, log_path, workers=workers)
        self.target = target
        self.ready_path = ready_path
        for name in drop_env:
            if name not in env:
                self.env.pop(name, None)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.target,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(self.workers),
        ]

    # Not every target has /health/live, so there is no wait_ready=False here.
    def start(self, *, timeout: float = 30.0) -> AppServer:  # type: ignore[override]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self._wait(self.ready_path, timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "server not started"
        return self.process.pid

    def uvicorn_flags(self) -> str:
        return " ".join(self.command()[3:]).replace(self.target, "<target>")


def cpu_seconds(pid: int) -> float:
    """User + system CPU so far (Linux /proc), in seconds, of a process and the processes
    it runs (uvicorn's worker processes when there are several)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the task ended meanwhile
            continue
    return found


def host_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores since boot, from /proc/stat."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total

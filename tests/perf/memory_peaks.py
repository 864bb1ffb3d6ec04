"""Peak private memory of a PostgreSQL backend with its parallel workers, and of this
process, per step of a refresh (sampled by a thread).

``ru_maxrss`` of the benchmark's own process misses the database half: the backend that
runs a refresh and the parallel workers it starts hold their hash tables and sorts in
their own memory (up to ``work_mem`` x ``hash_mem_multiplier`` per node). Both are read
from ``/proc/<pid>/status``: ``RssAnon`` for the PostgreSQL processes (their ``RssShmem``
is the shared buffer pool, which every backend maps and which is not the refresh's),
``VmRSS`` for this process. Parallel workers are found by their process title
(``postgres: parallel worker for PID <leader>``). A 0.1 s sampling period can miss a
shorter spike; it sees the hash aggregates and sorts, which last seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

PERIOD_SECONDS = 0.1


def status_kib(pid: int | str, field_name: str) -> int:
    """A field of /proc/<pid>/status in KiB; 0 once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def parallel_workers(leader: int) -> list[int]:
    title = f"parallel worker for PID {leader}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title in command:
            found.append(int(entry.name))
    return found


def backend_kib(leader: int) -> tuple[int, int]:
    """Private memory of ``leader`` and its parallel workers now, and how many workers."""
    workers = parallel_workers(leader)
    total = sum(status_kib(pid, "RssAnon") for pid in (leader, *workers))
    return total, len(workers)


class MemoryPeaks:
    """While entered, the peak private memory of the backend ``leader`` (with its parallel
    workers) and of this process, per step named by ``step()`` at each sample."""

    def __init__(self, leader: int, step: Callable[[], str]) -> None:
        self.leader = leader
        self.step = step
        self.backend: dict[str, int] = {}
        self.workers: dict[str, int] = {}
        self.process: dict[str, int] = {}
        self.both: dict[str, int] = {}  # the two added at the same sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(PERIOD_SECONDS):
            step = self.step()
            backend, workers = backend_kib(self.leader)
            process = status_kib("self", "VmRSS")
            self.backend[step] = max(self.backend.get(step, 0), backend)
            self.workers[step] = max(self.workers.get(step, 0), workers)
            self.process[step] = max(self.process.get(step, 0), process)
            self.both[step] = max(self.both.get(step, 0), backend + process)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            "backend_kib": dict(self.backend),
            "workers": dict(self.workers),
            "process_kib": dict(self.process),
            "both_kib": dict(self.both),
        }

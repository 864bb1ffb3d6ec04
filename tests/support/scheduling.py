"""How pytest-xdist splits the suite between workers (``scripts/test`` runs it with
``--dist loadscope``).

Each worker has its own session database and server. A test file's own stack
(``tests/support/stack.py``) is module-scoped, and a few packages load a retailer once in a
package-scoped fixture: handing their tests to different workers would build that set-up
once per worker. So the unit of work is the package for those packages, the file otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

PACKAGE_SCOPED = re.compile(r"""scope\s*=\s*["']package["']""")


def shared_setup_packages(tests: Path) -> tuple[str, ...]:
    """The test packages (as node-id prefixes) whose conftest has a package-scoped fixture."""
    root = tests.parent
    return tuple(
        f"{conftest.parent.relative_to(root).as_posix()}/"
        for conftest in sorted(tests.rglob("conftest.py"))
        if conftest.parent != tests and PACKAGE_SCOPED.search(conftest.read_text())
    )


class SharedSetupScheduling(LoadScopeScheduling):
    """LoadScope with the package as the unit where its tests share a package fixture."""

    def __init__(self, config: pytest.Config, log: Any, packages: tuple[str, ...]) -> None:
        super().__init__(config, log)
        self.packages = packages

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return next((p for p in self.packages if path.startswith(p)), path)


def shared_setup_scheduler(config: pytest.Config, log: Any) -> SharedSetupScheduling:
    packages = shared_setup_packages(Path(__file__).resolve().parents[1])
    return SharedSetupScheduling(config, log, packages)

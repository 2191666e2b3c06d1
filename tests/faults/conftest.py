"""pytest set-up for the fault-injection tests (docs/testing.md, "Faults").

They reuse tests/integration/helpers.py (running procmon, strict line
parsing, trigger programs) by putting that directory on sys.path. Every
test starts its own procmon; none shares one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import helpers  # noqa: E402
from helpers import PROCMON  # noqa: E402


def pytest_collection_modifyitems(config, items):
    helpers.skip_all_unless_runnable(items, "faults")


@pytest.fixture(autouse=True)
def procmon_built():
    if not PROCMON.exists():
        pytest.fail(f"{PROCMON} is missing: run `make`")


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs mounted on a fresh directory, unmounted afterwards."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)]).returncode:
            subprocess.run(["umount", "-l", str(mnt)])  # still busy: detach


@pytest.fixture
def spawn():
    """Start procmon as a faultkit.Daemon; every one is killed at teardown,
    also when the test failed."""
    from faultkit import Daemon
    made = []

    def start(*args, **kw):
        d = Daemon(*args, **kw)
        made.append(d)
        return d

    yield start
    for d in made:
        d.kill()


@pytest.fixture
def procmons():
    """Start procmon as a helpers.Procmon (events parsed from its stdout);
    every one is killed at teardown."""
    from helpers import Procmon
    made = []

    def start(*args):
        p = Procmon(*args)
        made.append(p)
        return p

    yield start
    for p in made:
        p.kill()

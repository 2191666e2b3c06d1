"""pytest fixtures for the procmon integration tests.

One procmon instance is shared by the whole session (starting it attaches
BPF programs and scans /proc, which takes a moment); each test sees it
through `pm`, a view limited to the events emitted after the test started,
and filters them by the pids it created. Tests never sleep to synchronise:
they wait for the `ready` line and for the events themselves.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import helpers
from helpers import Procmon, ProcmonView, PROCMON, REPO


def pytest_collection_modifyitems(config, items):
    helpers.skip_all_unless_runnable(items, "integration")


@pytest.fixture(scope="session")
def procmon():
    """The shared build/procmon, default configuration, events on stdout."""
    if not PROCMON.exists():
        pytest.fail(f"{PROCMON} is missing: run `make`")
    pm = Procmon()
    pm.wait_ready()
    yield pm
    status = pm.stop()
    assert not pm.bad_lines, f"invalid output lines: {pm.bad_lines[:3]!r}"
    assert status == 0, \
        f"procmon exited {status} on SIGTERM; stderr:\n{pm.stderr_tail()}"


@pytest.fixture
def pm(procmon):
    """The shared procmon, seen from this test: events since it started.
    Fails the test if procmon wrote any invalid line or died meanwhile."""
    view = ProcmonView(procmon)
    yield view
    view.check_health()


def _exec_friendly(path):
    """True when set-id bits, file capabilities and exec work under path."""
    flags = os.statvfs(path).f_flag
    return not flags & (os.ST_NOSUID | os.ST_NOEXEC) and os.access(path, os.W_OK)


def _traversable_by_all(path):
    """True when every directory from / down to path has the x bit for
    others, so uid 65534 can reach what is under it."""
    p = Path(os.path.realpath(path))
    return all(os.stat(d).st_mode & 0o001 for d in (p, *p.parents))


def _shared_dir(prefix):
    """A fresh root-owned 0755 directory on a mount without nosuid/noexec,
    that uid 65534 can reach but not write (pytest's tmp_path is 0700, /tmp
    may be nosuid, and the checkout may sit under a 0700 directory)."""
    bases = [tempfile.gettempdir(), "/tmp", str(REPO / "build")]
    base = next((b for b in bases if os.path.isdir(b) and _exec_friendly(b)
                 and _traversable_by_all(b)), None)
    if base is None:
        pytest.fail(f"none of {bases} is on a mount without nosuid/noexec "
                    "and reachable by every user")
    d = os.path.realpath(tempfile.mkdtemp(prefix=prefix, dir=base))
    os.chmod(d, 0o755)
    return Path(d)


@pytest.fixture(scope="session", autouse=True)
def shared_progs():
    """The trigger programs, copied from build/progs for the session into a
    directory every user can reach: runas execs them as 65534. prog()
    returns paths in it; removed at the end."""
    d = _shared_dir("procmon-progs-")
    if helpers.PROGS.is_dir():
        for f in helpers.PROGS.iterdir():
            if f.is_file():
                shutil.copyfile(f, d / f.name)
                os.chmod(d / f.name, 0o755)  # whatever the builder's umask was
    helpers.progs_dir = d
    yield d
    helpers.progs_dir = helpers.PROGS
    shutil.rmtree(d)


@pytest.fixture
def exec_dir():
    """A fresh 0755 directory on a mount without nosuid/noexec, reachable by
    uid 65534."""
    d = _shared_dir("procmon-test-")
    yield d
    shutil.rmtree(d)

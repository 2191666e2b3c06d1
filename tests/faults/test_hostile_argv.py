"""Arguments and paths at the kernel's own limits: 10,000 arguments, one
argument of MAX_ARG_STRLEN (128 KiB), ~1 MiB of arguments, a binary
~4,000 bytes deep. procmon copies 32 KiB of argv (PM_ARGS_MAX) and walks
4096 bytes / 128 components of path: what it cuts it flags
(`args_truncated`, `binary_path_truncated`, docs/events.md), and it keeps
running. tests/integration/test_hostile.py has the byte-level cases; here
the sizes are the kernel's maximum.

One procmon (default configuration, events on a pipe, every line parsed
strictly by helpers.Procmon) serves the module.
"""

import os
import shutil
import subprocess

import pytest

from faultkit import is_exec_with_args, marker
from helpers import ARGS_MAX, Procmon, check_event_shape, is_event, run_prog

MAX_ARG_STRLEN = 32 * 4096  # one argument, its NUL included (binfmts.h)


@pytest.fixture(scope="module")
def pm():
    p = Procmon()
    try:
        p.wait_ready()
        yield p
        status = p.stop()
        assert status == 0, p.stderr_tail()
        assert not p.bad_lines, p.bad_lines[:3]
    finally:
        p.kill()


def run_true(pm, args):
    since = pm.mark()
    child = subprocess.Popen(["/bin/true", *args])
    assert child.wait(30) == 0
    ev = pm.wait_for(lambda e: is_event(e, "ProcessExec", child.pid)
                     and e["process"]["filename"] == "true", since=since,
                     what=f"ProcessExec of /bin/true, pid {child.pid}")
    pm.wait_for(lambda e: is_event(e, "ProcessExit", child.pid), since=since,
                what=f"ProcessExit of pid {child.pid}")
    check_event_shape(ev)
    return ev["process"]


def assert_still_emitting(pm):
    since = pm.mark()
    tag = marker()
    pm.wait_for(lambda e: is_exec_with_args(e, tag), since=since, what="a later exec")


@pytest.mark.parametrize("args", [
    pytest.param([f"a{i}" for i in range(10000)], id="10000-args"),
    pytest.param(["x" * (MAX_ARG_STRLEN - 1)], id="one-128KiB-arg"),
    pytest.param([c * (MAX_ARG_STRLEN - 1) for c in "abcdefgh"], id="1MiB-total"),
])
def test_huge_argv(pm, args):
    full = " ".join(args)
    proc = run_true(pm, args)
    size = sum(len(a) + 1 for a in ["/bin/true", *args])
    assert size > ARGS_MAX
    assert proc.get("args_truncated") is True, \
        f"{size}-byte argv reported as {len(proc['args'])} chars without the flag"
    assert full.startswith(proc["args"]), "args is not a prefix of the real argv"
    assert len(proc["args"]) >= ARGS_MAX // 2, f"only {len(proc['args'])} chars kept"
    assert_still_emitting(pm)


def test_binary_path_4000_bytes_deep(pm, tmp_path):
    """A binary ~4,000 bytes down (near PATH_MAX): exact, or cut and
    flagged with the leaf end of the real path."""
    base = tmp_path / "deep"
    base.mkdir()
    left = 4000 - len(os.fsencode(base)) - len(b"/true-deep")
    dirs = []
    while left > 1:  # components of up to 200 bytes, "/" counted
        n = min(200, left - 1)
        dirs.append(bytes([97 + len(dirs) % 26]) * n)
        left -= n + 1
    real = b"/".join([os.fsencode(base), *dirs, b"true-deep"]).decode()
    since = pm.mark()
    try:
        run = run_prog("deep_path", str(base), b"true-deep", *dirs)
        ev = pm.wait_for(lambda e: is_event(e, "ProcessExec", run.pid)
                         and e["process"]["filename"] == "true-deep", since=since,
                         what="ProcessExec of true-deep")
    finally:
        shutil.rmtree(base)
    check_event_shape(ev)
    proc = ev["process"]
    assert 3990 <= len(real) <= 4000, len(real)
    if proc.get("binary_path_truncated"):
        path = proc["binary_path"]
        assert "/" in path and real.endswith(path[path.index("/"):]), path[:300]
    else:
        assert proc["binary_path"] == real
    assert_still_emitting(pm)

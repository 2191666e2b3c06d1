"""Hostile input: arguments and paths no well-behaved program would use.

Whatever the bytes, every output line must be strict JSON (the reader thread
checks each one; the `pm` fixture fails the test on any bad line), values
must be exact after decoding (invalid UTF-8 -> one U+FFFD per byte), and
anything cut must be flagged.
"""

import os
import shutil
import subprocess
import uuid

import pytest

from helpers import (
    ARGS_MAX, assert_fields, assert_hash_if_present, check_event_shape,
    hex_lines, replace_invalid_utf8, run_prog, sha256_of,
)

TRUE = os.path.realpath("/bin/true")


def exec_of_true(pm, pid, filename="true"):
    """The second ProcessExec of a trigger pid: the one of the exec'd file."""
    ev = pm.wait_event("ProcessExec", pid,
                       where=lambda e: e["process"]["filename"] == filename)
    check_event_shape(ev)
    return ev


def test_hostile_args(pm):
    run = run_prog("hostile_args", "mixed")
    argv = hex_lines(run.stdout, "arg")
    expected = replace_invalid_utf8(b" ".join(argv[1:]))
    # bad(2) + overlong(2) + truncated(2) + surrogate(3) + too big(4) bytes
    assert expected.count("\ufffd") == 13

    ev = exec_of_true(pm, run.pid)
    exit_ = pm.wait_event("ProcessExit", run.pid)
    for e in (ev, exit_):
        assert_fields(e["process"], {"args": expected, "binary_path": TRUE},
                      f"{e['type']}.process")
        assert "args_truncated" not in e["process"]


@pytest.mark.parametrize("mode,cut", [
    ("big", True),          # one 64 KiB argument
    ("many-short", False),  # 5000 arguments, ~24 KB in all
    ("many-long", True),    # 5000 arguments, 50 KB in all
])
def test_args_limit(pm, mode, cut):
    run = run_prog("hostile_args", mode)
    argv = hex_lines(run.stdout, "arg")
    full = b" ".join(argv[1:]).decode("ascii")
    size = sum(len(a) + 1 for a in argv)  # what the kernel copy reads, argv[0] included
    assert (size > ARGS_MAX) == cut, f"{mode}: argv is {size} bytes"

    proc = exec_of_true(pm, run.pid)["process"]
    if not cut:
        assert "args_truncated" not in proc
        assert proc["args"] == full, "complete argv reported inexactly"
        return
    assert proc.get("args_truncated") is True, \
        f"{mode}: {size}-byte argv, {len(proc['args'])} chars reported, no flag"
    assert full.startswith(proc["args"]), "truncated args are not a prefix of argv"
    # Cut at the documented 32 KiB copy limit, not much earlier.
    assert len(proc["args"]) >= ARGS_MAX // 2, f"only {len(proc['args'])} chars kept"


def assert_still_emitting(pm):
    """procmon survived: a new process is still reported."""
    tag = f"still-alive-{uuid.uuid4().hex}"
    p = subprocess.run(["/bin/true", tag])
    pm.wait_for(lambda e: e["type"] == "ProcessExec" and e["process"]["args"] == tag,
                what=f"ProcessExec of /bin/true {tag}")
    return p


def run_deep_path(pm, base, filename, dirs):
    """Exec a copy of /bin/true at base/dirs.../filename; its ProcessExec
    and the real path as bytes."""
    base.mkdir()
    try:
        run = run_prog("deep_path", str(base), filename, *dirs)
        ev = exec_of_true(pm, run.pid, replace_invalid_utf8(filename))
        pm.wait_event("ProcessExit", run.pid)
    finally:
        shutil.rmtree(base)  # fd-relative, copes with any depth
    assert_hash_if_present(ev["process"], sha256_of("/bin/true"))
    real = b"/".join([os.fsencode(base), *dirs, filename])
    return ev["process"], real


@pytest.mark.parametrize("dirs", [
    pytest.param([bytes([97 + i % 26]) * 200 for i in range(24)], id="bytes"),  # 4824+ bytes
    pytest.param([b"d"] * 150, id="components"),  # 150+ dentries
])
def test_deep_path_cut(pm, tmp_path, dirs):
    proc, real = run_deep_path(pm, tmp_path / "deep", b"true-deep", dirs)
    real = real.decode()
    assert proc["filename"] == "true-deep"
    assert proc.get("binary_path_truncated") is True, \
        f"{len(real)}-byte, {real.count('/')}-component path not flagged"
    path = proc["binary_path"]
    assert path.endswith(f"/{dirs[-1].decode()}/true-deep"), path[-300:]
    # What was kept is the leaf end of the real path (from a component start).
    assert "/" in path and real.endswith(path[path.index("/"):]), path[:300]
    assert_still_emitting(pm)


def test_deep_path_within_limits(pm, tmp_path):
    # About 106 components and 400 bytes: under both limits, so exact.
    proc, real = run_deep_path(pm, tmp_path / "deep", b"true-deep", [b"d"] * 100)
    assert_fields(proc, {"binary_path": real.decode(), "filename": "true-deep"},
                  "ProcessExec.process")
    assert "binary_path_truncated" not in proc


def test_path_with_newline(pm, tmp_path):
    proc, real = run_deep_path(pm, tmp_path / "nl", b"true-nl",
                               [b"dir with\nnewline"])
    assert_fields(proc, {"binary_path": real.decode(), "filename": "true-nl"},
                  "ProcessExec.process")
    assert "binary_path_truncated" not in proc


def test_path_with_invalid_utf8(pm, tmp_path):
    proc, real = run_deep_path(pm, tmp_path / "bad", b"true-\x01\xc0",
                               [b"bad\xff\xfedir"])
    assert_fields(proc, {"binary_path": replace_invalid_utf8(real),
                         "filename": "true-\x01\ufffd"}, "ProcessExec.process")
    assert_still_emitting(pm)

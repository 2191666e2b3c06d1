"""Bad and unsafe files: configurations and output paths.

A configuration decides what the sensor sees, so one that another user
could have written is refused (contract 9), like a malformed, oversized or
directory one: exit 2 and a message naming the file. The output file is
opened without following a symlink and must be a regular file that no
other user planted or can write: refused with exit 1 and a message naming
the file, otherwise accepted (and kept private). Only the exit status and
the path in the message are checked, not the wording.

Files "owned by another user" are made by this (root) test and chowned to
nobody: a stand-in for a file that user planted. Nothing runs as nobody.
"""

import os
import shutil
import subprocess

import pytest

from faultkit import NOBODY, exit_report, read_lines, refused, is_exec_with_args, marker

BAD_CONFIG = 2
RUNTIME = 1
CONFIG_MAX_BYTES = 16 << 20  # src/config/config.c
VALID = "format: bombini\n"


def private_dir(path):
    path.mkdir(mode=0o700)
    return path


def assert_refused(status, stderr, path, code):
    assert status == code, f"exit status {status} (expected {code}); stderr:\n{stderr}"
    assert str(path) in stderr, f"stderr does not name {path}:\n{stderr}"


# --------------------------------------------------------------------------
# Configuration files


def make_config(tmp_path, kind):
    d = private_dir(tmp_path / "conf")
    cfg = d / "procmon.yaml"
    if kind == "malformed":
        cfg.write_text("format: bombini\nsetuid: { enabled: true\n")
    elif kind == "huge":
        line = b"# " + b"x" * 125 + b"\n"  # 128 bytes of comment
        with open(cfg, "wb") as f:
            f.write(line * (CONFIG_MAX_BYTES // len(line) + 1))
    elif kind == "directory":
        cfg.mkdir()
    elif kind == "world-writable":
        cfg.write_text(VALID)
        cfg.chmod(0o666)
    elif kind == "owned-by-nobody":
        cfg.write_text(VALID)
        os.chown(cfg, NOBODY, NOBODY)
    elif kind == "dir-writable-by-nobody":
        os.chown(d, NOBODY, NOBODY)
        cfg.write_text(VALID)
    return cfg


@pytest.mark.parametrize("kind", ["malformed", "huge", "directory", "world-writable",
                                  "owned-by-nobody", "dir-writable-by-nobody"])
def test_bad_config_refused(tmp_path, kind):
    cfg = make_config(tmp_path, kind)
    try:
        status, stderr = refused(["--config", cfg])
    finally:
        shutil.rmtree(cfg.parent)  # the huge one is 16 MiB
    assert_refused(status, stderr, cfg, BAD_CONFIG)


def test_empty_config(tmp_path, procmons):
    """An empty file is a valid configuration (docs/configuration.md):
    every hook off, so only ProcessExec, ProcessClone and ProcessExit, no
    ExistingProcess, and no hash (ima_hash defaults to false in a file)."""
    cfg = private_dir(tmp_path / "conf") / "empty.yaml"
    cfg.write_text("")
    p = procmons("--config", cfg)
    p.wait_ready()
    subprocess.run(["/usr/bin/env", "true"], check=True)  # two execs, libraries loaded
    tag = marker()
    p.wait_for(lambda e: is_exec_with_args(e, tag), what="marker exec")
    p.wait_for(lambda e: e.get("type") == "ProcessExit" and
               e["process"].get("args") == tag, what="marker exit")
    assert p.stop() == 0, p.stderr_tail()
    assert not p.bad_lines, p.bad_lines[:3]
    types = {e.get("type") for e in p.events}
    assert types <= {"ProcessExec", "ProcessClone", "ProcessExit"}, types
    assert not any("binary_ima_hash" in e["process"] for e in p.events)


# --------------------------------------------------------------------------
# Output files


def test_output_symlink_refused(tmp_path):
    """A symlink planted at the output path (O_NOFOLLOW): refused, and the
    file it points to is untouched."""
    d = private_dir(tmp_path / "out")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    victim.chmod(0o644)
    before = victim.stat()
    out = d / "events.jsonl"
    out.symlink_to(victim)
    status, stderr = refused(["--output", out])
    assert_refused(status, stderr, out, RUNTIME)
    after = victim.stat()
    assert victim.read_bytes() == b"precious\n"
    assert (after.st_mode, after.st_size, after.st_mtime_ns) == \
        (before.st_mode, before.st_size, before.st_mtime_ns)


def test_output_hard_link_refused(tmp_path):
    """An output file with a second name (nlink > 1) could be anyone's
    file: refused, and the other name's content untouched."""
    d = private_dir(tmp_path / "out")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    victim.chmod(0o600)
    out = d / "events.jsonl"
    os.link(victim, out)
    status, stderr = refused(["--output", out])
    assert_refused(status, stderr, out, RUNTIME)
    assert victim.read_bytes() == b"precious\n"


@pytest.mark.parametrize("kind", ["world-writable", "owned-by-nobody"])
def test_output_unsafe_file_refused(tmp_path, kind):
    d = private_dir(tmp_path / "out")
    out = d / "events.jsonl"
    out.write_bytes(b"")
    if kind == "world-writable":
        out.chmod(0o666)
    else:
        out.chmod(0o600)
        os.chown(out, NOBODY, NOBODY)
    status, stderr = refused(["--output", out])
    assert_refused(status, stderr, out, RUNTIME)
    assert out.read_bytes() == b""


def test_output_dir_writable_by_nobody_refused(tmp_path):
    d = private_dir(tmp_path / "out")
    os.chown(d, NOBODY, NOBODY)
    out = d / "events.jsonl"
    status, stderr = refused(["--output", out])
    assert_refused(status, stderr, out, RUNTIME)
    assert not out.exists() or out.stat().st_size == 0


def run_and_read(spawn, out):
    """procmon --output out, a marker, SIGTERM: the file's events."""
    p = spawn("--output", out).wait_ready()
    tag = marker()
    assert p.stop() == 0, p.stderr[-2000:]
    events = read_lines(out)
    assert any(is_exec_with_args(e, tag) for e in events), "marker exec missing"
    lost, written = exit_report(p.stderr)
    assert lost == 0
    return events


def test_output_existing_root_0644_accepted_private(tmp_path, spawn):
    """An existing root-owned 0644 file is safe to append to; procmon
    takes it and makes it private (events are not for every local user)."""
    d = private_dir(tmp_path / "out")
    out = d / "events.jsonl"
    out.write_bytes(b'{"preexisting":true}\n')
    out.chmod(0o644)
    events = run_and_read(spawn, out)
    assert events[0] == {"preexisting": True}
    mode = out.stat().st_mode & 0o777
    assert mode & 0o077 == 0, f"output left mode {oct(mode)}: readable by others"


def test_output_in_sticky_root_dir_accepted(tmp_path, spawn):
    """A root-owned sticky 1777 directory (like /tmp): others can create
    files there but not replace procmon's, so it is accepted."""
    d = tmp_path / "sticky"
    d.mkdir()
    d.chmod(0o1777)
    out = d / "events.jsonl"
    run_and_read(spawn, out)
    st = out.stat()
    assert st.st_uid == 0 and st.st_mode & 0o077 == 0, oct(st.st_mode)

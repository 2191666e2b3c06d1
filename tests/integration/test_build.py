"""The build itself: what `make` says on a machine that lacks its tools.

Each make runs in a fresh BUILD directory, so the real build/ is never
touched, with the environment of a top-level make (a `make test` parent's
MAKEFLAGS would hand it a jobserver it cannot reach).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading

import pytest

from helpers import EVENT_TIMEOUT, READY_RE, REPO, STOP_TIMEOUT, BadLine, parse_line

HINT = "run 'make deps' (or scripts/install-deps.sh) as root"


def make_env(path=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    if path is not None:
        env["PATH"] = path
    return env


@pytest.fixture
def build_dir():
    d = tempfile.mkdtemp(prefix="procmon-build-")
    yield d
    shutil.rmtree(d)


@pytest.fixture
def path_without_bpftool():
    """A PATH of one directory: symlinks to every program on PATH but
    bpftool (first one wins, as for the shell)."""
    d = tempfile.mkdtemp(prefix="procmon-path-")
    for dir_ in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        if not os.path.isdir(dir_):
            continue
        for name in os.listdir(dir_):
            target = os.path.join(dir_, name)
            link = os.path.join(d, name)
            if name != "bpftool" and not os.path.lexists(link) \
                    and os.access(target, os.X_OK) and not os.path.isdir(target):
                os.symlink(target, link)
    yield d
    shutil.rmtree(d)


def test_make_without_bpftool_says_how_to_get_it(build_dir, path_without_bpftool):
    """Exactly one line on stderr naming bpftool and `make deps`, non-zero
    exit, and nothing built."""
    p = subprocess.run(["make", f"BUILD={build_dir}"], cwd=REPO,
                       env=make_env(path_without_bpftool), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0, p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert re.search(r"\bprocmon: bpftool not found: " + re.escape(HINT), lines[0]), lines[0]
    assert not os.path.exists(os.path.join(build_dir, "procmon"))


def test_make_with_everything_installed_passes_the_check(build_dir):
    """The check does not stop a machine that has what building needs
    (`make -n`: the check runs, nothing is built)."""
    p = subprocess.run(["make", "-n", f"BUILD={build_dir}"], cwd=REPO, env=make_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "not found" not in p.stderr, p.stderr


def test_make_run_is_compact_for_people_unless_told():
    """`make run` shows compact lines; FORMAT= picks a JSON format."""
    for args, want in (([], "--format compact"), (["FORMAT=bombini"], "--format bombini")):
        r = subprocess.run(["make", "-n", "--no-print-directory", "run", *args], cwd=REPO,
                           env=make_env(), capture_output=True, text=True, timeout=60)
        assert re.search(rf"procmon {want}$", r.stdout, re.M), r.stdout


def test_bpf_builds_without_the_build_hosts_btf(build_dir):
    """The BPF objects build from the shipped vmlinux.h: in a mount
    namespace where /sys/kernel/btf is empty, the skeletons are made and
    the shipped header is not regenerated."""
    arch = {"x86_64": "x86", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    header = REPO / "src" / "bpf" / "vmlinux" / arch / "vmlinux.h"
    if not header.exists():
        pytest.skip(f"no vmlinux.h shipped for {arch}")
    before = header.stat().st_mtime_ns
    targets = [f"{build_dir}/process.skel.h", f"{build_dir}/syscalls.skel.h"]
    p = subprocess.run(["unshare", "-m", "sh", "-c",
                        'mount -t tmpfs tmpfs /sys/kernel/btf && exec make "$@"', "sh",
                        f"BUILD={build_dir}", *targets],
                       cwd=REPO, env=make_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert all(os.path.getsize(t) > 0 for t in targets)
    assert header.stat().st_mtime_ns == before
    assert "GEN" not in p.stdout


def test_make_run_writes_only_events_to_stdout():
    """`make run FORMAT=bombini | jq`: every stdout line of `make run` is an
    event, from the first one on (no echoed command, no build line, no make
    message)."""
    p = subprocess.Popen(["make", "run", "FORMAT=bombini"], cwd=REPO, env=make_env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    cond = threading.Condition()
    out, err, ready, closed = [], [], threading.Event(), threading.Event()

    def read_out():
        for raw in iter(p.stdout.readline, b""):
            with cond:
                out.append(raw)
                cond.notify_all()
        closed.set()

    def read_err():
        for raw in iter(p.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            err.append(line)
            if READY_RE.search(line):
                ready.set()
        ready.set()  # make gone: wait_ready below sees it

    readers = [threading.Thread(target=f, daemon=True) for f in (read_out, read_err)]
    for t in readers:
        t.start()

    seen = [0]  # lines of out already looked at

    def exit_seen(pid):
        for raw in out[seen[0]:]:
            seen[0] += 1
            try:
                ev = parse_line(raw)
            except BadLine:
                continue
            if ev.get("type") == "ProcessExit" and ev["process"]["pid"] == pid:
                return True
        return False

    try:
        # the build is done already: make only checks it, then starts procmon
        assert ready.wait(60) and any(READY_RE.search(l) for l in err), \
            "no 'ready' line from make run; stderr:\n" + "\n".join(err[-20:])
        true = subprocess.Popen(["/bin/true"])
        true.wait()
        with cond:  # an event for certain: /bin/true's exit
            assert cond.wait_for(lambda: exit_seen(true.pid), EVENT_TIMEOUT), f"no ProcessExit of {true.pid}; got {out[:3]!r}"
    finally:
        os.killpg(p.pid, signal.SIGTERM)  # make and procmon
        p.wait(STOP_TIMEOUT)
        closed.wait(STOP_TIMEOUT)  # procmon gone too: stdout at EOF
    assert closed.is_set(), "procmon kept stdout open after SIGTERM"
    for i, raw in enumerate(out):
        try:
            ev = parse_line(raw)
        except BadLine as e:
            raise AssertionError(f"stdout line {i + 1} is not an event ({e}): {raw!r}")
        assert "type" in ev, f"stdout line {i + 1} is not an event: {raw!r}"

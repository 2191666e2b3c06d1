"""procmon as a service: the watchdog, `make install`, the unit, the man
pages and the shipped logrotate snippet, each with the real tool
(systemd-analyze, mandoc, logrotate). systemd need not be PID 1 here:
the watchdog is driven through $NOTIFY_SOCKET as systemd would drive it.
The Debian package has its own file, test_package.py.
"""

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import (EVENT_TIMEOUT, PROCMON, READY_TIMEOUT, REPO, STOP_TIMEOUT,
                     parse_line, prog, wait_until)

PACKAGING = REPO / "packaging"
F_SETPIPE_SZ = 1031
WATCHDOG_USEC = 200_000  # keep-alives every 100 ms
# No keep-alive for this long, ten intervals, counts as "stopped".
SILENCE_S = 1.0


def make_env():
    """A top-level make's environment (see test_build.py)."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}


def run_make(*args, timeout=300):
    p = subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, env=make_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"make {' '.join(args)}:\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture
def private_dir():
    """A fresh root-owned 0700 directory procmon accepts for its output
    (under /tmp, sticky and root's, whatever holds the checkout)."""
    d = Path(tempfile.mkdtemp(prefix="procmon-service-", dir="/tmp"))
    os.chmod(d, 0o700)
    yield d
    shutil.rmtree(d)


# --------------------------------------------------------------------------
# Watchdog


class NotifySocket:
    """The datagram socket systemd listens on, and what arrives on it."""

    def __init__(self, directory):
        self.path = str(directory / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def recv(self, timeout):
        """The next message, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            return None

    def next_watchdog(self, timeout):
        """Seconds until the next WATCHDOG=1, or None if none came in time."""
        t0 = time.monotonic()
        while (left := timeout - (time.monotonic() - t0)) > 0:
            msg = self.recv(left)
            if msg is None:
                return None
            if msg == "WATCHDOG=1":
                return time.monotonic() - t0
            assert msg == "READY=1", f"unexpected notification {msg!r}"
        return None

    def close(self):
        self.sock.close()


def start_notified(directory, extra_env=None, stdout=subprocess.PIPE):
    env = dict(os.environ, WATCHDOG_USEC=str(WATCHDOG_USEC), **(extra_env or {}))
    env["NOTIFY_SOCKET"] = str(directory / "notify")
    return subprocess.Popen([str(PROCMON)], env=env, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=open(directory / "stderr", "wb"))


def drain(fd):
    while os.read(fd, 1 << 16):
        pass


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise


def test_watchdog_keepalives_stop_while_the_main_loop_is_stuck(private_dir):
    """READY=1, then WATCHDOG=1 only while the main loop comes round: with
    stdout a full pipe nobody reads, the loop waits in its write and the
    keep-alives stop (systemd would restart procmon); once the pipe is
    read they come back, every WATCHDOG_USEC/2."""
    notify = NotifySocket(private_dir)
    p = start_notified(private_dir)
    try:
        # one page: the ExistingProcess events alone fill it
        fcntl.fcntl(p.stdout.fileno(), F_SETPIPE_SZ, 4096)
        assert notify.recv(READY_TIMEOUT) == "READY=1", \
            (private_dir / "stderr").read_text()
        assert notify.next_watchdog(SILENCE_S) is None, \
            "WATCHDOG=1 while the output was blocked"
        # read and dropped: the shared host's events must not pile up here
        reader = threading.Thread(target=drain, args=(p.stdout.fileno(),), daemon=True)
        reader.start()
        assert notify.next_watchdog(EVENT_TIMEOUT) is not None, \
            "no WATCHDOG=1 after the output drained"
        gaps = [notify.next_watchdog(EVENT_TIMEOUT) for _ in range(5)]
        assert None not in gaps, gaps
        # every half interval (100 ms), give or take the loop's 100 ms poll
        # and a busy machine; never a burst
        assert all(0.05 < g < 1.0 for g in gaps), gaps
    finally:
        stop(p)
        notify.close()
    assert p.returncode == 0, (private_dir / "stderr").read_text()


def test_watchdog_for_another_pid_is_not_ours(private_dir):
    """WATCHDOG_PID naming another process (an inherited environment):
    READY=1 but no keep-alives."""
    notify = NotifySocket(private_dir)
    p = start_notified(private_dir, {"WATCHDOG_PID": "1"}, stdout=subprocess.DEVNULL)
    try:
        assert notify.recv(READY_TIMEOUT) == "READY=1"
        assert notify.next_watchdog(SILENCE_S) is None
    finally:
        stop(p)
        notify.close()


# --------------------------------------------------------------------------
# make install, the unit, the man pages


def test_make_install_and_uninstall_with_destdir(private_dir):
    """make install DESTDIR=...: every file where docs/service.md says,
    with its mode; the unit starts the installed program with the
    installed configuration and passes systemd-analyze verify; a changed
    configuration survives a second install and the uninstall, which
    removes everything else."""
    dest = private_dir / "root"
    run_make("install", f"DESTDIR={dest}")
    expect = {
        "usr/local/sbin/procmon": 0o755,
        "usr/local/bin/procmon-tail": 0o755,
        "usr/local/lib/systemd/system/procmon.service": 0o644,
        "usr/local/share/man/man8/procmon.8": 0o644,
        "usr/local/share/man/man5/procmon.yaml.5": 0o644,
        "usr/local/share/man/man1/procmon-tail.1": 0o644,
        "usr/local/share/doc/procmon/README.md": 0o644,
        "usr/local/share/doc/procmon/configuration.md": 0o644,
        "usr/local/share/doc/procmon/examples/procmon.logrotate": 0o644,
        "usr/local/share/procmon/prometheus/procmon.rules.yml": 0o644,
        "usr/local/share/procmon/grafana/procmon.json": 0o644,
        "etc/procmon/procmon.yaml": 0o644,
        "var/log/procmon": 0o700,
        # the shipped Sigma rules, where the default configuration looks
        "usr/share/procmon/rules/sigma/LICENSE.DRL": 0o644,
        "usr/share/procmon/rules/sigma/ATTRIBUTION.md": 0o644,
        "usr/share/procmon/rules/sigma/process_creation/proc_creation_lnx_crontab_removal.yml":
            0o644,
    }
    for rel, mode in expect.items():
        st = os.stat(dest / rel)
        assert st.st_mode & 0o7777 == mode, f"{rel}: mode {st.st_mode & 0o7777:o}"
        assert st.st_uid == 0, rel
    config = (dest / "etc/procmon/procmon.yaml").read_text()
    assert "\noutput: /var/log/procmon/procmon.jsonl\n" in config
    # two rotations of one file clash: procmon's own only
    assert "\noutput_max_mb: 100\n" in config
    assert not (dest / "etc/logrotate.d").exists()
    # the man pages name this installation's docs
    page = (dest / "usr/local/share/man/man8/procmon.8").read_text()
    assert "/usr/local/share/doc/procmon/configuration.md" in page
    assert "/usr/share/doc" not in page
    unit = (dest / "usr/local/lib/systemd/system/procmon.service").read_text()
    assert "\nExecStart=/usr/local/sbin/procmon --config /etc/procmon/procmon.yaml\n" in unit

    # the unit, with its program found where DESTDIR put it
    check = private_dir / "procmon.service"
    check.write_text(unit.replace("/usr/local/sbin/procmon", str(dest / "usr/local/sbin/procmon")))
    v = subprocess.run(["systemd-analyze", "verify", "--man=no", str(check)],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0 and not v.stderr.strip(), v.stderr

    (dest / "etc/procmon/procmon.yaml").write_text(config + "# mine\n")
    p = run_make("install", f"DESTDIR={dest}")
    assert "KEEP" in p.stdout, p.stdout
    assert (dest / "etc/procmon/procmon.yaml").read_text().endswith("# mine\n")

    run_make("uninstall", f"DESTDIR={dest}")
    left = sorted(str(f.relative_to(dest)) for f in dest.rglob("*") if not f.is_dir())
    assert left == ["etc/procmon/procmon.yaml"], left
    assert not (dest / "var/log/procmon").exists()
    assert not (dest / "usr/share/procmon").exists()


@pytest.mark.parametrize("page", ["procmon.8", "procmon.yaml.5", "procmon-tail.1"])
def test_man_page_is_lint_clean(page):
    """mandoc -Tlint: no warning or error (style notes such as manuals
    this host lacks are not the page's fault)."""
    p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(PACKAGING / "man" / page)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr


def test_man_page_documents_every_option():
    """Every long option of `procmon --help` is in procmon(8)."""
    help_text = subprocess.run([str(PROCMON), "--help"], capture_output=True, text=True,
                               timeout=STOP_TIMEOUT).stdout
    page = (PACKAGING / "man" / "procmon.8").read_text()
    options = set(re.findall(r"--([a-z][a-z-]*)", help_text))
    assert options, help_text
    missing = [o for o in sorted(options) if f"Fl -{o}" not in page]
    assert not missing, f"not in procmon(8): {missing}"


# --------------------------------------------------------------------------
# The shipped logrotate snippet, with the real logrotate


def render_logrotate(output, pid):
    """packaging/procmon.logrotate for this output file and this procmon:
    only the path and the postrotate command change."""
    text = (PACKAGING / "procmon.logrotate").read_text()
    assert text.count("/var/log/procmon/procmon.jsonl") == 1, text
    text = text.replace("/var/log/procmon/procmon.jsonl", str(output))
    text, n = re.subn(r"(\n\s*postrotate\n).*?(\n\s*endscript)",
                      rf"\g<1>\t\tkill -HUP {pid}\g<2>", text, flags=re.S)
    assert n == 1, text
    return text


def holds_open(pid, path):
    """True when process pid has the file at path (this inode) open."""
    want = os.stat(path)
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            st = os.stat(os.path.join(fd_dir, fd))
        except FileNotFoundError:
            continue
        if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
            return True
    return False


def events_in(path, still_written=True):
    """The events in a file, every line checked. While procmon may be in
    the middle of a write, what follows the last newline is not read."""
    data = Path(path).read_bytes()
    if still_written:
        data = data[:data.rfind(b"\n") + 1]
    return [parse_line(line) for line in data.splitlines(keepends=True)]


def exec_of(events, pid):
    return [e for e in events if e.get("type") == "ProcessExec"
            and e["process"]["pid"] == pid]


def test_shipped_logrotate_snippet_rotates_a_live_procmon(private_dir):
    """logrotate -f with the shipped snippet (path and signal pointed at
    this test's procmon): the old file holds only whole lines, with what
    came before; the new one is created 0600 and gets what comes after."""
    output = private_dir / "procmon.jsonl"
    stderr = private_dir / "stderr"
    p = subprocess.Popen([str(PROCMON), "--output", str(output)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(stderr, "wb"))
    try:
        wait_until(lambda: b"ready" in stderr.read_bytes() or p.poll() is not None,
                   "procmon's ready line", READY_TIMEOUT)
        assert p.poll() is None, stderr.read_text()
        before = subprocess.run([prog("wait_line")], input=b"\n", capture_output=True,
                                timeout=EVENT_TIMEOUT)
        before_pid = int(before.stdout.split()[1])
        wait_until(lambda: exec_of(events_in(output), before_pid), "the first trigger's exec")

        conf = private_dir / "logrotate.conf"
        conf.write_text(render_logrotate(output, p.pid))
        os.chmod(conf, 0o644)
        r = subprocess.run(["logrotate", "-f", "-s", str(private_dir / "state"), str(conf)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        rotated = private_dir / "procmon.jsonl.1"  # delaycompress: not yet gzipped
        assert rotated.exists(), sorted(os.listdir(private_dir))
        st = os.stat(output)
        assert st.st_mode & 0o7777 == 0o600 and st.st_uid == 0, oct(st.st_mode)
        # SIGHUP handled: procmon holds the new file, no longer the old one
        wait_until(lambda: holds_open(p.pid, output) and not holds_open(p.pid, rotated),
                   "procmon reopening its output after SIGHUP")

        after = subprocess.run([prog("wait_line")], input=b"\n", capture_output=True,
                               timeout=EVENT_TIMEOUT)
        after_pid = int(after.stdout.split()[1])
        wait_until(lambda: exec_of(events_in(output), after_pid), "the second trigger's exec")
        old = events_in(rotated, still_written=False)  # whole lines only
        assert exec_of(old, before_pid) and not exec_of(old, after_pid)
        assert not exec_of(events_in(output), before_pid)
    finally:
        stop(p)
    assert p.returncode == 0, stderr.read_text()

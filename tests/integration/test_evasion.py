"""Detection integrity under evasion (issue 23): what an unprivileged
process does to make procmon miss something.

Each test runs its own procmon (the built-in configuration, events to a
file) while two `/bin/true` exec loops keep both CPUs busy, as an attacker
on a loaded host would have it, and reads the file back line by line.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import uuid

import pytest

from helpers import Procmon, parse_line, prog

FLOOD_SECONDS = 6
MARKER_EXECS = 10          # execs of another process during the flood
FLOOD_BYTES_MAX = 10 << 20  # the flood's own output over its 6 s
LIB = "libz.so.1"           # dlopen'ed by the flood: procmon links it, the flood does not


class ExecLoops:
    """Two `while :; do /bin/true; done` shells: the load of the issue."""

    def __init__(self, n=2):
        self.procs = [subprocess.Popen(["/bin/sh", "-c", "while :; do /bin/true; done"])
                      for _ in range(n)]

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def loaded(tmp_path):
    """(procmon writing to a file, the file) with the exec loops running."""
    out = tmp_path / "events.json"
    pm = Procmon("--output", out)
    pm.wait_ready()
    loops = ExecLoops()
    try:
        yield pm, out
    finally:
        loops.stop()
        pm.kill()
        out.unlink(missing_ok=True)  # ~100 MB of the exec loops' events


def stop(pm):
    """SIGTERM: procmon writes everything it read, then the loss report."""
    assert pm.stop() == 0, pm.stderr_tail()
    report = pm.wait_stderr(lambda l: "at exit: events lost" in l)
    return report


def events(path):
    """The output file's events, streamed."""
    with open(path, "rb") as f:
        for raw in f:
            yield parse_line(raw), len(raw)


def test_flood_hides_no_exec_and_is_summarised(loaded):
    pm, out = loaded
    flood = subprocess.Popen([prog("flood"), str(FLOOD_SECONDS), LIB, str(MARKER_EXECS)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert flood.stdout.readline() == b"ready\n"
    tag = uuid.uuid4().hex
    marker_pids = []
    # execs of other processes spread over the flood: one on each of its ticks
    for i in range(MARKER_EXECS):
        assert flood.stdout.readline() == b"tick\n"
        p = subprocess.run(["/bin/true", f"evasion-{tag}-{i}"])
        assert p.returncode == 0
    rest, err = flood.communicate(timeout=FLOOD_SECONDS + 30)
    assert flood.returncode == 0, err
    counts = dict(line.split() for line in rest.decode().splitlines())
    prctls, dlopens = int(counts["prctl"]), int(counts["dlopen"])
    report = stop(pm)

    markers = set()
    flood_bytes = total_bytes = 0
    written = {"Prctl": 0, "ModuleLoad": 0}
    written_lib = 0
    summarised = {"Prctl": 0, "ModuleLoad": 0}
    all_summarised = 0
    for ev, size in events(out):
        total_bytes += size
        proc = ev["process"]
        if ev["type"] == "ProcessExec" and proc["args"].startswith(f"evasion-{tag}-"):
            markers.add(proc["args"])
        if ev["type"] == "RepeatedEvents":
            all_summarised += ev["repeated"]["count"]
        if proc["pid"] != flood.pid:
            continue
        flood_bytes += size
        if ev["type"] == "ProcessEvent" and ev["process_event"]["type"] == "Prctl":
            written["Prctl"] += 1
        elif ev["type"] == "ModuleLoad":
            written["ModuleLoad"] += 1
            written_lib += ev["module_load"]["module_name"].startswith("libz.so")
        elif ev["type"] == "RepeatedEvents":
            r = ev["repeated"]
            kind = r.get("process_event_type", r["type"])
            assert kind in summarised, r
            assert r["count"] > 0 and r["first_time"] <= r["last_time"], r
            summarised[kind] += r["count"]
    print(f"flood: {prctls} prctl, {dlopens} dlopen; written {written}, summarised "
          f"{summarised}; flood output {flood_bytes} bytes, all output {total_bytes}; "
          f"marker execs {len(markers)}/{MARKER_EXECS}")
    assert len(markers) == MARKER_EXECS, report
    # every call is a written event or in a summary, exactly
    assert written["Prctl"] + summarised["Prctl"] == prctls
    # the flood's own start-up loads (libc ...) come first, in full
    assert written["ModuleLoad"] + summarised["ModuleLoad"] == \
        dlopens + written["ModuleLoad"] - written_lib
    assert summarised["Prctl"] > 0 and summarised["ModuleLoad"] > 0
    assert flood_bytes <= FLOOD_BYTES_MAX
    # the loss report agrees: nothing lost, the summaries' total
    m = re.search(r"repeats summarised: (\d+)", report)
    assert m and int(m.group(1)) == all_summarised, report
    for cat in ("exec", "clone", "exit", "prctl", "module_load", "repeated_events"):
        assert f" {cat}=0" in report or f"kernel {cat}=0" in report, report


class Waiting:
    """A process that runs until told to go (a line on stdin)."""

    def __init__(self, *argv):
        self.proc = subprocess.Popen(list(map(str, argv)), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("ready "), (line, self.proc.stderr.read())
        self.pid = int(line.split()[1])

    def close(self):
        self.proc.communicate(b"\n", timeout=10)


def test_existing_process_says_what_happened(tmp_path):
    """Processes found by the /proc scan: a zeroed argv area is no list of
    empty arguments, and the args are marked as read from /proc; a deleted
    on-disk binary is binary_deleted, a memfd one FILELESS_EXEC."""
    deleted = tmp_path / "deleted-binary"
    deleted.write_bytes(open(prog("wait_line"), "rb").read())
    deleted.chmod(0o755)
    memfd_src = tmp_path / "memfd-src"
    memfd_src.write_bytes(open(prog("wait_line"), "rb").read())
    targets = {
        "spoof": Waiting(prog("argv_zero"), "kworker/0:1", *["x" * 60] * 3, *[""] * 61),
        "deleted": Waiting(deleted),
        "memfd": Waiting(prog("memfd_exec"), memfd_src),
    }
    deleted.unlink()
    out = tmp_path / "events.json"
    pm = Procmon("--output", out)
    try:
        pm.wait_ready()
        # the ready line comes after the ExistingProcess events are written
        found = {}
        for ev, _ in events(out):
            for name, t in targets.items():
                if ev["type"] == "ExistingProcess" and ev["process"]["pid"] == t.pid:
                    found[name] = ev["process"]
    finally:
        for t in targets.values():
            t.close()
        stop(pm)
    assert set(found) == set(targets), found.keys()
    spoof = found["spoof"]
    assert spoof["args"] == "" and spoof["argv0"] == "kworker/0:1", spoof
    assert spoof["args_from_proc"] is True
    assert found["deleted"]["binary_path"] == f"{deleted} (deleted)"
    assert found["deleted"]["binary_deleted"] is True
    assert "FILELESS_EXEC" not in found["deleted"]["secureexec"]
    assert found["memfd"]["binary_path"] == "/memfd:fileless-exec-test (deleted)"
    assert "FILELESS_EXEC" in found["memfd"]["secureexec"]
    assert "binary_deleted" not in found["memfd"]


RACE_RUNS = 30


def unique_true(path):
    """A copy of /bin/true no procmon has seen (its hash cache cannot
    know it); returns its SHA-256 as procmon writes it."""
    data = open("/bin/true", "rb").read() + os.urandom(32)
    path.write_bytes(data)
    path.chmod(0o755)
    return "sha256:" + hashlib.sha256(data).hexdigest()


def exec_hashes(out, runs):
    """For each (pid, digest) of runs, the ProcessExec's hash, or None."""
    want = dict(runs)
    got = {}
    for ev, _ in events(out):
        p = ev["process"]
        if ev["type"] == "ProcessExec" and p["pid"] in want and p["args"] == "":
            got[p["pid"]] = p
    missing = set(want) - set(got)
    assert not missing, f"no ProcessExec for {missing}"
    return {pid: got[pid] for pid in want}


def race_result(procs, runs, what):
    hashed = sum(procs[pid].get("binary_ima_hash") == digest for pid, digest in runs)
    wrong = sum(procs[pid].get("binary_ima_hash") not in (digest, None) for pid, digest in runs)
    print(f"{what}: hashed {hashed} of {len(runs)}, wrong {wrong}")
    return hashed, wrong


def test_renamed_over_binary_is_hashed(loaded, tmp_path):
    """A binary that exits at once while another file is renamed over its
    path: its ProcessExec has the hash of what ran (never the new file's),
    and says the file was replaced, not that it was fileless."""
    pm, out = loaded
    runs = []
    for i in range(RACE_RUNS):
        binary, other = tmp_path / f"swapped-{i}", tmp_path / f"other-{i}"
        digest = unique_true(binary)
        unique_true(other)
        run = subprocess.run([prog("exec_swap"), "rename-exit", binary, other],
                             capture_output=True, timeout=30)
        assert run.returncode == 0, run.stderr
        runs.append((int(run.stdout.split()[1]), digest))
    stop(pm)
    procs = exec_hashes(out, runs)
    hashed, wrong = race_result(procs, runs, "renamed-over binary")
    for p in procs.values():
        assert "FILELESS_EXEC" not in p["secureexec"], p
        if p["binary_path"].endswith(" (deleted)"):
            assert p.get("binary_deleted") is True, p
    assert wrong == 0
    assert hashed >= RACE_RUNS - 1


def test_short_lived_memfd_payload_is_hashed(loaded, tmp_path):
    """A fileless payload (memfd) that exits at once, under load: its
    ProcessExec has its hash."""
    pm, out = loaded
    runs = []
    for i in range(RACE_RUNS):
        src = tmp_path / f"payload-{i}"
        digest = unique_true(src)
        run = subprocess.Popen([prog("memfd_exec"), src], stderr=subprocess.PIPE)
        _, err = run.communicate(timeout=30)
        assert run.returncode == 0, err
        runs.append((run.pid, digest))
    stop(pm)
    want = dict(runs)
    procs = {}
    for ev, _ in events(out):
        p = ev["process"]
        if ev["type"] == "ProcessExec" and p["pid"] in want \
                and p["filename"] == "memfd:fileless-exec-test":
            procs[p["pid"]] = p
    assert set(procs) == set(want)
    hashed, wrong = race_result(procs, runs, "short-lived memfd payload")
    for p in procs.values():
        assert "FILELESS_EXEC" in p["secureexec"] and "binary_deleted" not in p, p
    assert wrong == 0
    assert hashed >= RACE_RUNS - 1

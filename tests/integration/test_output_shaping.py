"""output_shaping: per-event-type allow and deny lists (issue 15, item 8).

A type left out is never written, whatever else happens on the host; the
other types are written as before. Absence is checked after a later
event of the same process has been seen (docs/testing.md).
"""

import os
import subprocess
import uuid

from helpers import Procmon


def start(tmp_path, shaping):
    f = tmp_path / "shaping.yaml"
    f.write_text(f"module_load: {{ enabled: true }}\nprctl: {{ enabled: true }}\n"
                 f"output_shaping: {shaping}\n")
    os.chmod(f, 0o600)
    pm = Procmon("--config", f)
    pm.wait_ready()
    return pm


def run_marker():
    tag = f"shaping-{uuid.uuid4().hex}"
    p = subprocess.run(["/bin/true", tag], check=True)
    return tag, p


def args_are(tag):
    return lambda ev: ev.get("process", {}).get("args") == tag


def test_deny_module_load(tmp_path):
    pm = start(tmp_path, "{ deny: [ModuleLoad] }")
    try:
        tag, _ = run_marker()
        # /bin/true maps libc (a ModuleLoad, denied) before it exits
        pm.wait_for(lambda ev: ev.get("type") == "ProcessExit" and args_are(tag)(ev))
        with pm.cond:
            types = {ev["type"] for ev in pm.events}
        assert "ModuleLoad" not in types
        assert {"ProcessExec", "ProcessExit"} <= types
    finally:
        assert pm.stop() == 0, pm.stderr_tail()
    assert not pm.bad_lines


def test_allow_only_exec_by_limacharlie_name(tmp_path):
    """allow takes LimaCharlie names too: NEW_PROCESS is ProcessExec."""
    pm = start(tmp_path, "{ allow: [NEW_PROCESS] }")
    try:
        first, _ = run_marker()
        pm.wait_for(lambda ev: ev.get("type") == "ProcessExec" and args_are(first)(ev))
        # a second exec after the first one's exit: the first one's exit,
        # clone and module loads would have come before it
        second, _ = run_marker()
        pm.wait_for(lambda ev: ev.get("type") == "ProcessExec" and args_are(second)(ev))
        with pm.cond:
            types = {ev["type"] for ev in pm.events}
        assert types == {"ProcessExec"}, types
    finally:
        assert pm.stop() == 0, pm.stderr_tail()


def test_caps_format_hex(tmp_path):
    """caps_format: hex writes capability sets as /proc/PID/status does."""
    from helpers import proc_caps
    f = tmp_path / "hex.yaml"
    f.write_text("caps_format: hex\n")
    os.chmod(f, 0o600)
    pm = Procmon("--config", f)
    try:
        pm.wait_ready()
        tag, _ = run_marker()
        ev = pm.wait_for(lambda ev: ev.get("type") == "ProcessExec" and args_are(tag)(ev))
    finally:
        assert pm.stop() == 0, pm.stderr_tail()
    caps = proc_caps()
    # a root exec: pP' = pE' = pI | bounding set, pI' = pI
    gained = caps["CapInh"] | caps["CapBnd"]
    p = ev["process"]
    assert p["cap_effective"] == f"{gained:016x}"
    assert p["cap_permitted"] == f"{gained:016x}"
    assert p["cap_inheritable"] == f"{caps['CapInh']:016x}"

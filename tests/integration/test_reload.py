"""SIGHUP reloads the configuration (contract 3, issue 15 item 7).

A real procmon with a configuration file: the file is rewritten, procmon
gets SIGHUP, and the new filters' effect is checked on real events; a bad
new file keeps the old configuration running and names file:line:key.
Every wait is on a stderr line or an event, with a timeout.
"""

import signal
import textwrap

import pytest

from helpers import EVENT_TIMEOUT, Procmon

from test_filters import assert_split, copy_prog, prctl_from


def write(path, text):
    path.write_text(textwrap.dedent(text))


def hup_and_wait(pm, pred):
    """SIGHUP, then the first stderr line after it for which pred is true."""
    with pm.cond:
        mark = len(pm.stderr_lines)
    pm.proc.send_signal(signal.SIGHUP)

    def found():
        return next((l for l in pm.stderr_lines[mark:] if pred(l)), None)
    with pm.cond:
        line = pm.cond.wait_for(found, EVENT_TIMEOUT)
    assert line is not None, f"no such line on stderr after SIGHUP:\n{pm.stderr_tail()}"
    with pm.cond:
        return pm.stderr_lines[mark:]


@pytest.fixture
def procmon_with(tmp_path):
    started = []

    def start(text):
        cfg = tmp_path / "procmon.yaml"
        write(cfg, text)
        pm = Procmon("--config", cfg).wait_ready()
        started.append(pm)
        return pm, cfg

    yield start
    for pm in started:
        assert pm.stop() == 0, pm.stderr_tail()
        assert not pm.bad_lines, pm.bad_lines[:3]


def reloaded(line):
    return "configuration reloaded" in line


def test_sighup_puts_a_new_process_filter_in_force(procmon_with, exec_dir):
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm, cfg = procmon_with("""
        prctl: { enabled: true }
    """)
    assert_split(pm, shown=[prctl_from(allowed), prctl_from(other)], hidden=[])
    write(cfg, """
        prctl: { enabled: true }
        process_filter: { binary: { name: [allowed] } }
    """)
    lines = hup_and_wait(pm, reloaded)
    assert not any("restart" in l for l in lines), lines
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])
    # and back: no filter, both reported again
    write(cfg, """
        prctl: { enabled: true }
    """)
    hup_and_wait(pm, reloaded)
    assert_split(pm, shown=[prctl_from(allowed), prctl_from(other)], hidden=[])


def test_sighup_turns_an_allow_list_into_a_deny_list(procmon_with, exec_dir):
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm, cfg = procmon_with("""
        prctl: { enabled: true }
        process_filter: { binary: { name: [allowed] } }
    """)
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])
    write(cfg, """
        prctl: { enabled: true }
        process_filter: { binary: { name: [allowed] }, deny_list: true }
    """)
    hup_and_wait(pm, reloaded)
    assert_split(pm, shown=[prctl_from(other)], hidden=[prctl_from(allowed)])


def running_with_allow_list(procmon_with, exec_dir):
    """procmon reporting prctl only from a program named `allowed`; the
    procmon, its config file and the two trigger copies."""
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm, cfg = procmon_with("""
        prctl: { enabled: true }
        process_filter: { binary: { name: [allowed] } }
    """)
    return pm, cfg, allowed, other


def test_sighup_with_a_bad_file_keeps_the_running_configuration(procmon_with, exec_dir):
    pm, cfg, allowed, other = running_with_allow_list(procmon_with, exec_dir)
    write(cfg, """
        prctl: { enabled: true }
        process_filter: { binary: { name: [other] } }
        no_such_key: 1
    """)
    lines = hup_and_wait(pm, lambda l: "not reloaded" in l)
    line = next(l for l in lines if "not reloaded" in l)
    assert f"{cfg}:4" in line and "no_such_key" in line, line
    assert not any(reloaded(l) for l in lines), lines
    # the old filter is still in force, and events go on
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])


def test_sighup_with_an_unsafe_file_keeps_the_running_configuration(procmon_with, exec_dir):
    pm, cfg, allowed, other = running_with_allow_list(procmon_with, exec_dir)
    write(cfg, """
        prctl: { enabled: true }
    """)
    cfg.chmod(0o666)
    lines = hup_and_wait(pm, lambda l: "not reloaded" in l)
    assert any(str(cfg) in l for l in lines if "not reloaded" in l), lines
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])


def test_sighup_names_the_keys_that_need_a_restart(procmon_with, exec_dir):
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm, cfg = procmon_with("""
        prctl: { enabled: true }
        ring_buffer_kb: 8192
    """)
    write(cfg, """
        prctl: { enabled: true }
        ring_buffer_kb: 4096
        named_pipe: { enabled: true }
        process_filter: { binary: { name: [allowed] } }
    """)
    lines = hup_and_wait(pm, reloaded)
    warn = [l for l in lines if "restart" in l]
    assert len(warn) == 1, lines
    assert "ring_buffer_kb" in warn[0] and "named_pipe.enabled" in warn[0], warn
    assert "process_filter" not in warn[0], warn
    # what could change did
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])


def test_sighup_keeps_every_filter_when_one_needs_programs_not_loaded(procmon_with, exec_dir):
    """A uid filter reads the credentials before the call: without one at
    start, those programs are not loaded, so the new filters wait for a
    restart and the running ones stay."""
    other = copy_prog(exec_dir, "other")
    pm, cfg = procmon_with("""
        prctl: { enabled: true }
    """)
    write(cfg, """
        prctl: { enabled: true }
        process_filter: { uid: [12345], binary: { name: [allowed] } }
    """)
    lines = hup_and_wait(pm, reloaded)
    warn = [l for l in lines if "restart" in l]
    assert len(warn) == 1 and "process_filter.uid" in warn[0], lines
    assert_split(pm, shown=[prctl_from(other)], hidden=[])

"""Bombini's filters on ProcessEvent: process_filter and each cred_filter.

Each test starts its own procmon with a configuration file, runs a
process the filter should let through and one it should hold back, and
checks both. Exec, clone and exit are never filtered, so a process's
ProcessExit marks the point where all of its events are out (the ring
buffer is ordered): after it, a missing event is missing for good.
"""

import shutil
import subprocess
import textwrap

import pytest

from helpers import NOBODY, Procmon, loginuid, proc_caps, prog

from test_privilege import results

CAP_CHOWN, CAP_NET_RAW, CAP_SYS_ADMIN = 0, 13, 21


@pytest.fixture
def start_procmon(tmp_path):
    """start_procmon(yaml) -> a ready procmon with that configuration."""
    started = []

    def start(text):
        cfg = tmp_path / f"procmon-{len(started)}.yaml"
        cfg.write_text(textwrap.dedent(text))
        procmon = Procmon("--config", cfg)
        started.append(procmon)
        return procmon.wait_ready()

    yield start
    for procmon in started:
        assert procmon.stop() == 0, procmon.stderr_tail()
        assert not procmon.bad_lines, procmon.bad_lines[:3]


def copy_prog(exec_dir, relpath):
    """A copy of priv_calls at exec_dir/relpath."""
    path = exec_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(prog("priv_calls"), path)
    return path


def run(path, *steps, preexec_fn=None):
    """Run path (a priv_calls) with steps, each of which must give 0; its pid."""
    p = subprocess.Popen([str(path), *steps], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    got = results(type("Run", (), {"stdout": out}))
    assert all(got.get(s) == 0 for s in steps), got
    return p.pid


def reported(procmon, pid, subtype):
    """pid's ProcessEvents of subtype, all of them (waits for its exit)."""
    procmon.wait_for(lambda e: e.get("type") == "ProcessExit"
                     and e["process"]["pid"] == pid, what=f"exit of {pid}")
    return procmon.find(lambda e: e.get("type") == "ProcessEvent"
                        and e["process"]["pid"] == pid
                        and e["process_event"]["type"] == subtype)


def prctl_from(path, *prefix):
    """Run path (through prefix, e.g. runas) making one PR_SET_NAME call;
    its pid."""
    argv = [*prefix, path, "prctl-name:filtered"]
    p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out.endswith(b" 0\n"), (out, err)
    return p.pid


def assert_split(procmon, shown, hidden, subtype="Prctl"):
    """Each pid in shown has exactly one subtype event; each in hidden none."""
    for pid in shown:
        assert len(reported(procmon, pid, subtype)) == 1, f"pid {pid} should be reported"
    for pid in hidden:
        assert reported(procmon, pid, subtype) == [], f"pid {pid} should be filtered out"


# --------------------------------------------------------------------------
# process_filter: binary name, path, prefix, deny_list


def test_binary_name(start_procmon, exec_dir):
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm = start_procmon("""
        prctl: { enabled: true }
        process_filter: { binary: { name: [allowed] } }
    """)
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])


def test_binary_path(start_procmon, exec_dir):
    allowed = copy_prog(exec_dir, "allowed")
    same_name = copy_prog(exec_dir, "sub/allowed")
    pm = start_procmon(f"""
        prctl: {{ enabled: true }}
        process_filter: {{ binary: {{ path: ["{allowed}"] }} }}
    """)
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(same_name)])


def test_binary_prefix(start_procmon, exec_dir):
    """A directory prefix, and one that ends inside a file name."""
    under = copy_prog(exec_dir, "bin/tool")
    beside = copy_prog(exec_dir, "bin-tool")
    alpha, beta = copy_prog(exec_dir, "alpha"), copy_prog(exec_dir, "beta")
    pm = start_procmon(f"""
        prctl: {{ enabled: true }}
        process_filter:
          binary:
            prefix: ["{exec_dir}/bin/", "{exec_dir}/al"]
    """)
    assert_split(pm, shown=[prctl_from(under), prctl_from(alpha)],
                 hidden=[prctl_from(beside), prctl_from(beta)])


def test_deny_list(start_procmon, exec_dir):
    allowed, other = copy_prog(exec_dir, "allowed"), copy_prog(exec_dir, "other")
    pm = start_procmon("""
        prctl: { enabled: true }
        process_filter: { binary: { name: [other] }, deny_list: true }
    """)
    assert_split(pm, shown=[prctl_from(allowed)], hidden=[prctl_from(other)])


def test_name_or_path_and_uid(start_procmon, exec_dir):
    """name OR path, AND uid: a listed binary run by an unlisted user is out."""
    by_name, by_path = copy_prog(exec_dir, "by-name"), copy_prog(exec_dir, "by-path")
    neither = copy_prog(exec_dir, "neither")
    pm = start_procmon(f"""
        prctl: {{ enabled: true }}
        process_filter:
          uid: [{NOBODY}]
          binary: {{ name: [by-name], path: ["{by_path}"] }}
    """)
    runas = (prog("runas"), NOBODY, NOBODY)
    assert_split(pm, shown=[prctl_from(by_name, *runas), prctl_from(by_path, *runas)],
                 hidden=[prctl_from(neither, *runas), prctl_from(by_name)])


# --------------------------------------------------------------------------
# process_filter: uid, euid, auid


def test_uid(start_procmon):
    pm = start_procmon(f"""
        prctl: {{ enabled: true }}
        process_filter: {{ uid: [{NOBODY}] }}
    """)
    priv_calls = prog("priv_calls")
    assert_split(pm, shown=[prctl_from(priv_calls, prog("runas"), NOBODY, NOBODY)],
                 hidden=[prctl_from(priv_calls)])


def test_euid_is_the_callers_before_the_call(start_procmon):
    """euid [0]: root dropping to nobody is reported (it was root when it
    called); what the process does afterwards, as nobody, is not."""
    pm = start_procmon("""
        setuid: { enabled: true }
        prctl: { enabled: true }
        process_filter: { euid: [0] }
    """)
    pid = run(prog("priv_calls"), f"setresuid:{NOBODY},{NOBODY},{NOBODY}", "prctl-name:after")
    assert len(reported(pm, pid, "Setuid")) == 1
    assert reported(pm, pid, "Prctl") == []


def test_auid(start_procmon):
    """auid is the login uid: set one for a child, the filter sees it."""
    assert loginuid() != 4242
    pm = start_procmon("""
        prctl: { enabled: true }
        process_filter: { auid: [4242] }
    """)

    def login_as_4242():
        with open("/proc/self/loginuid", "w") as f:
            f.write("4242")

    logged_in = run(prog("priv_calls"), "prctl-name:x", preexec_fn=login_as_4242)
    assert_split(pm, shown=[logged_in], hidden=[prctl_from(prog("priv_calls"))])


# --------------------------------------------------------------------------
# cred_filter


def capset_pid(mask):
    return run(prog("priv_calls"), f"capset:{mask:x},{mask:x},0")


NET_RAW, SYS_ADMIN, CHOWN = 1 << CAP_NET_RAW, 1 << CAP_SYS_ADMIN, 1 << CAP_CHOWN


@pytest.mark.parametrize("cap_filter,shown,hidden", [
    ("{ effective: [CAP_NET_RAW] }", [NET_RAW | SYS_ADMIN, NET_RAW], [SYS_ADMIN, 0]),
    ("{ effective: [CAP_NET_RAW, CAP_SYS_ADMIN] }", [NET_RAW | SYS_ADMIN], [NET_RAW]),
    ("{ effective: [ANY] }", [CHOWN], [0]),
    ("{ effective: [CAP_NET_RAW], deny_list: true }", [SYS_ADMIN], [NET_RAW]),
], ids=["name", "all-listed", "any", "deny-list"])
def test_capset_cap_filter(start_procmon, cap_filter, shown, hidden):
    pm = start_procmon(f"""
        capset: {{ enabled: true, cred_filter: {{ cap_filter: {cap_filter} }} }}
    """)
    assert_split(pm, shown=[capset_pid(m) for m in shown],
                 hidden=[capset_pid(m) for m in hidden], subtype="Setcaps")


def setid_pid(step):
    return run(prog("priv_calls"), step)


def test_uid_and_gid_filter(start_procmon):
    """setuid's uid_filter.euid and setgid's gid_filter.egid: the ids the
    call produced."""
    pm = start_procmon("""
        setuid: { enabled: true, cred_filter: { uid_filter: { euid: [0] } } }
        setgid: { enabled: true, cred_filter: { gid_filter: { egid: [0] } } }
    """)
    nobody3 = f"{NOBODY},{NOBODY},{NOBODY}"
    assert_split(pm, shown=[setid_pid("setresuid:0,0,0")],
                 hidden=[setid_pid(f"setresuid:{nobody3}")], subtype="Setuid")
    assert_split(pm, shown=[setid_pid("setresgid:0,0,0")],
                 hidden=[setid_pid(f"setresgid:{nobody3}")], subtype="Setgid")


def test_failed_unshare_leaves_no_note(start_procmon):
    """With the notes of sys_enter on (an euid filter), a failed
    unshare(CLONE_NEWUSER) followed by an unshare of another namespace is
    no CreateUserNs."""
    pm = start_procmon("""
        create_user_ns: { enabled: true }
        process_filter: { euid: [0] }
    """)
    # in a chroot, unshare(CLONE_NEWUSER) fails with EPERM
    p = subprocess.Popen([prog("priv_calls"), "chroot:/tmp", "unshare-user", "unshare:4000000"],
                         stdout=subprocess.PIPE)
    out = p.communicate(timeout=60)[0].decode()
    assert out == "chroot:/tmp 0\nunshare-user -1\nunshare:4000000 0\n", out
    assert_split(pm, shown=[run(prog("priv_calls"), "unshare-user")], hidden=[p.pid],
                 subtype="CreateUserNs")


def test_user_ns_cap_filter_sees_the_callers_capabilities(start_procmon):
    """create_user_ns with cap_filter CAP_SYS_ADMIN: root is reported; a
    process that dropped its effective set is not, although it holds every
    capability in the namespace it has just made."""
    pm = start_procmon("""
        create_user_ns: { enabled: true, cred_filter: { cap_filter: { effective: [CAP_SYS_ADMIN] } } }
    """)
    permitted = proc_caps()["CapPrm"]
    dropped = run(prog("priv_calls"), f"capset:0,{permitted:x},0", "unshare-user")
    assert_split(pm, shown=[run(prog("priv_calls"), "unshare-user")], hidden=[dropped],
                 subtype="CreateUserNs")


# --------------------------------------------------------------------------
# A Bombini procmon.yaml with every documented key


BOMBINI_CONFIG = """
    expose_events: true
    gc_period: 30
    ima_hash: true
    setuid:
      enabled: true
      cred_filter:
        uid_filter:
          euid: [0]
    setgid:
      enabled: true
      cred_filter:
        gid_filter:
          egid: [0]
    capset:
      enabled: true
      cred_filter:
        cap_filter:
          effective: ["CAP_NET_RAW"]
          deny_list: false
    prctl:
      enabled: true
    create_user_ns:
      enabled: true
      cred_filter:
        cap_filter:
          effective: ["CAP_SYS_ADMIN"]
    ptrace_access_check:
      enabled: true
    process_filter:
      uid: [0]
      euid: [0]
      auid: []
      binary:
        name: [capsh]
        path: [/usr/sbin/capsh]
        prefix: [/usr/bin/]
      deny_list: false
"""


def test_bombini_configuration(start_procmon, exec_dir):
    """Bombini's keys load (gc_period and expose_events with a warning), and
    the filters mean what they say: root's capsh is watched, other
    binaries are not, and each hook's cred_filter applies on top."""
    capsh, other = copy_prog(exec_dir, "capsh"), copy_prog(exec_dir, "other")
    pm = start_procmon(BOMBINI_CONFIG)
    assert any("gc_period" in l for l in pm.stderr_lines), pm.stderr_tail()
    both = NET_RAW | SYS_ADMIN
    # the capset without CAP_NET_RAW is held back by capset's cap_filter;
    # unshare runs with both capabilities left: CAP_SYS_ADMIN passes
    pid = run(capsh, "setresuid:0,0,0", "setresgid:0,0,0", "prctl-name:x",
              f"capset:{SYS_ADMIN:x},{both:x},0", f"capset:{both:x},{both:x},0",
              "unshare-user")
    for subtype in ("Setuid", "Setgid", "Prctl", "Setcaps", "CreateUserNs"):
        assert len(reported(pm, pid, subtype)) == 1, subtype
    setcaps, = reported(pm, pid, "Setcaps")
    assert setcaps["process_event"]["effective"] == "CAP_NET_RAW | CAP_SYS_ADMIN"
    pid = run(other, "setresuid:0,0,0", "prctl-name:x")
    assert reported(pm, pid, "Setuid") == [] and reported(pm, pid, "Prctl") == []

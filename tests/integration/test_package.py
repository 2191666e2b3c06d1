"""The Debian package: `make deb` (procmon and procmon-dbgsym), lintian on
both, then dpkg -i, the installed programs, unit, docs and configuration,
dpkg -r (only the conffile stays) and dpkg -P (nothing stays).

It installs into this machine, so it holds dpkg's frontend lock for the
whole test (as apt does, handing it to dpkg with DPKG_FRONTEND_LOCKED)
and always purges what it installed. A procmon package installed before
the test is somebody's: the test is skipped rather than touch it.
"""

import fcntl
import os
import re
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import REPO, STOP_TIMEOUT
from test_service import run_make

LOCK = "/var/lib/dpkg/lock-frontend"
LOCK_TIMEOUT = 120  # s: another apt or dpkg run finishing

# What the package owns besides its directories (docs/service.md).
DOC = "/usr/share/doc/procmon"
FILES = ["/usr/sbin/procmon", "/usr/bin/procmon-tail", "/lib/systemd/system/procmon.service",
         "/usr/share/man/man8/procmon.8.gz", "/usr/share/man/man5/procmon.yaml.5.gz",
         "/usr/share/man/man1/procmon-tail.1.gz",
         f"{DOC}/copyright", f"{DOC}/changelog.gz", f"{DOC}/README.md",
         f"{DOC}/configuration.md", f"{DOC}/fleet.md", f"{DOC}/service.md",
         f"{DOC}/examples/procmon.logrotate",
         "/usr/share/procmon/prometheus/procmon.rules.yml",
         "/usr/share/procmon/grafana/procmon.json",
         "/usr/share/procmon/rules/sigma/LICENSE.DRL",
         "/usr/share/procmon/rules/sigma/process_creation/proc_creation_lnx_crontab_removal.yml"]
CONFFILES = ["/etc/procmon/procmon.yaml"]
DIRS = ["/var/log/procmon", "/etc/procmon", DOC, "/usr/share/procmon"]


def package_status():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "procmon"],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else ""


@contextmanager
def dpkg_frontend_lock():
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o640)

    def too_long(*_):
        raise TimeoutError(f"{LOCK} held by another process for {LOCK_TIMEOUT}s")

    old = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(LOCK_TIMEOUT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # blocks until apt/dpkg elsewhere is done
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    try:
        yield
    finally:
        os.close(fd)


def dpkg(*args):
    env = dict(os.environ, DPKG_FRONTEND_LOCKED="1", DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["dpkg", *args], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"dpkg {' '.join(args)}:\n{p.stdout}\n{p.stderr}"
    return p


def test_deb_installs_runs_and_removes_cleanly():
    if package_status():
        pytest.skip(f"a procmon package is already installed ({package_status()}): "
                    "not touching it")
    run_make("deb")
    # the release, then the commit built (.dirty for uncommitted changes)
    version = subprocess.run([str(REPO / "build" / "procmon"), "--version"],
                             capture_output=True, text=True).stdout.split()[1]
    release = (REPO / "VERSION").read_text().strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    assert re.fullmatch(re.escape(release) + r"\+g" + commit + r"(\.dirty)?", version), \
        (version, release, commit)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip()
    deb = REPO / "build" / f"procmon_{version}_{arch}.deb"
    dbgsym = REPO / "build" / f"procmon-dbgsym_{version}_{arch}.deb"
    assert deb.exists() and dbgsym.exists(), \
        sorted(p.name for p in (REPO / "build").glob("*.deb"))
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Version", "Depends"],
                            capture_output=True, text=True).stdout
    # Depends from dpkg-shlibdeps: the libraries procmon links, versioned
    assert f"Version: {version}\n" in fields and "libbpf1 (>= " in fields, fields
    check_lintian(deb, dbgsym)
    check_debug_symbols(deb, dbgsym)

    with dpkg_frontend_lock():
        try:
            dpkg("-i", str(deb))
            assert package_status() == "install ok installed"
            for f in FILES + CONFFILES:
                assert os.path.isfile(f), f
            assert os.stat("/var/log/procmon").st_mode & 0o7777 == 0o700
            listed = dpkg("-s", "procmon").stdout
            assert all(c in listed for c in CONFFILES), listed  # Conffiles: ...

            check_installed_config()
            check_man_pages_name_installed_docs()
            t = subprocess.run(["/usr/bin/procmon-tail", "--help"], capture_output=True,
                               text=True, timeout=STOP_TIMEOUT)
            assert t.returncode == 0 and "--server" in t.stdout + t.stderr, t

            v = subprocess.run(["/usr/sbin/procmon", "--version"], capture_output=True,
                               text=True, timeout=STOP_TIMEOUT)
            assert v.returncode == 0 and v.stdout == f"procmon {version}\n", v
            h = subprocess.run(["/usr/sbin/procmon", "--help"], capture_output=True,
                               text=True, timeout=STOP_TIMEOUT)
            assert h.returncode == 0 and "--config" in h.stdout, h
            # man pages included: Documentation=man:procmon(8) is checked
            a = subprocess.run(["systemd-analyze", "verify",
                                "/lib/systemd/system/procmon.service"],
                               capture_output=True, text=True, timeout=60)
            assert a.returncode == 0 and not a.stderr.strip(), a.stderr
            # enabled only where systemd runs (it is not PID 1 here)
            wants = Path("/etc/systemd/system/multi-user.target.wants/procmon.service")
            assert wants.exists() == os.path.isdir("/run/systemd/system")

            dpkg("-r", "procmon")
            assert package_status() == "deinstall ok config-files"
            for f in FILES:
                assert not os.path.lexists(f), f"{f} left after dpkg -r"
            assert not os.path.exists("/var/log/procmon")
            for f in CONFFILES:
                assert os.path.isfile(f), f"conffile {f} removed by dpkg -r"

            dpkg("-P", "procmon")
            assert package_status() == ""
            for f in FILES + CONFFILES + DIRS:
                assert not os.path.lexists(f), f"{f} left after dpkg -P"
        finally:
            if package_status():
                dpkg("-P", "procmon")


def check_lintian(*debs):
    """lintian: no error and no warning on either package, beyond the
    override the package ships (explained in it and in docs/service.md)."""
    p = subprocess.run(["lintian", "--fail-on", "error,warning", *map(str, debs)],
                       capture_output=True, text=True, timeout=300)
    tags = [l for l in p.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    assert p.returncode == 0 and not tags, p.stdout + p.stderr


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    assert m, f"{path}: no build id"
    return m.group(1)


def sections(path):
    out = subprocess.run(["readelf", "-SW", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return set(re.findall(r"\]\s+(\.\S+)", out))


def check_debug_symbols(deb, dbgsym):
    """The programs are stripped and name their debug file; procmon-dbgsym
    holds that file under /usr/lib/debug/.build-id, with the DWARF, for
    the same build."""
    root = REPO / "build" / "deb"
    for prog in ("usr/sbin/procmon", "usr/bin/procmon-tail"):
        stripped = root / "root" / prog
        have = sections(stripped)
        assert ".symtab" not in have and ".debug_info" not in have, (prog, have)
        assert ".gnu_debuglink" in have, (prog, have)
        bid = build_id(stripped)
        rel = f"usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
        listed = subprocess.run(["dpkg-deb", "-c", str(dbgsym)], capture_output=True,
                                text=True, check=True).stdout
        assert f"./{rel}\n" in listed, (rel, listed)
        debug = root / "dbgsym" / rel
        assert build_id(debug) == bid
        assert {".debug_info", ".symtab"} <= sections(debug), (rel, sections(debug))
    assert build_id(root / "root/usr/sbin/procmon") == build_id(REPO / "build" / "procmon")


def check_installed_config():
    """The packaged configuration: valid, rotated, metrics on the
    loopback, ModuleLoad off; the built-in one keeps every hook the
    contract names (docs/configuration.md)."""
    conf = "/etc/procmon/procmon.yaml"
    c = subprocess.run(["/usr/sbin/procmon", "--check-config", conf],
                       capture_output=True, text=True, timeout=STOP_TIMEOUT)
    assert c.returncode == 0, c.stdout + c.stderr
    text = open(conf).read()
    for line in ("output: /var/log/procmon/procmon.jsonl", "output_max_mb: 100",
                 "output_backups: 5", "output_compress: true",
                 'metrics:\n  listen: "127.0.0.1:9464"'):
        assert f"\n{line}\n" in text, f"{line!r} not in {conf}"
    assert re.search(r"\nmodule_load:\n  enabled: false\b", text), text
    builtin = (REPO / "config" / "procmon.yaml").read_text()
    assert re.search(r"\nmodule_load:\n  enabled: true\n", builtin)


def check_man_pages_name_installed_docs():
    """The man pages point to /usr/share/doc/procmon, whose files exist."""
    for page in ("/usr/share/man/man8/procmon.8.gz", "/usr/share/man/man5/procmon.yaml.5.gz",
                 "/usr/share/man/man1/procmon-tail.1.gz"):
        text = subprocess.run(["zcat", page], capture_output=True, text=True,
                              check=True).stdout
        assert "in the source tree" not in text and "docs/" not in text, page
        for ref in re.findall(r"/usr/share/doc/procmon/([a-z.]+\.md)", text):
            assert os.path.isfile(f"{DOC}/{ref}"), (page, ref)

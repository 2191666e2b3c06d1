"""procmon --check-config FILE and --print-config (contract section 9).

--check-config parses and validates without root and without BPF: it is
run here as uid 65534 from a copy of the binary that user can reach.
--print-config prints the effective configuration as YAML procmon
accepts: fed back to --check-config it is ok and prints the same again.
"""

import os
import shutil
import subprocess

from helpers import NOBODY, PROCMON


def run(args, user=None, cwd=None):
    pre = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    p = subprocess.run([*pre, *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=20, cwd=cwd)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def nobody_copy(exec_dir):
    """build/procmon where uid 65534 can run it (the checkout may be 0700)."""
    dst = exec_dir / "procmon"
    shutil.copyfile(PROCMON, dst)
    os.chmod(dst, 0o755)
    return dst


def write(path, text, mode=0o600, owner=None):
    path.write_text(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def round_trip(tmp_path, first_args):
    status, printed, err = run([PROCMON, *first_args, "--print-config"])
    assert status == 0, err
    f = write(tmp_path / "printed.yaml", printed)
    status, out, err = run([PROCMON, "--check-config", f])
    assert (status, out, err) == (0, f"{f}: ok\n", "")
    status, again, err = run([PROCMON, "--check-config", f, "--print-config"])
    assert status == 0, err
    assert err == f"{f}: ok\n"
    assert again == printed
    return printed


def test_print_config_builtin_round_trips(tmp_path):
    printed = round_trip(tmp_path, [])
    # the defaults are spelled out
    for line in ("format: bombini", 'output: "stdout"', "ima_hash: true",
                 "ring_buffer_kb: 8192", "output_max_mb: 0", "output_backups: 5",
                 "output_compress: false", "metrics: {}"):
        assert line in printed.splitlines(), line
    assert '  processes: ["sshd", "sudo", "su", "login", "passwd", "gpg-agent", ' \
        in printed


def test_print_config_of_a_file_round_trips(tmp_path):
    cfg = write(tmp_path / "c.yaml", """\
format: limacharlie
output: "/var/log/pro\\"c mon\\\\.jsonl"
ring_buffer_kb: 65536
output_max_mb: 100
output_backups: 3
output_compress: true
metrics: { listen: "[::1]:9464" }
setuid: { enabled: true, cred_filter: { uid_filter: { euid: [0, 0x3e8] } } }
setgid: { enabled: true, cred_filter: { gid_filter: { egid: [0] } } }
capset: { enabled: true, cred_filter: { cap_filter: { effective: [ANY, sys_admin, CAP_NET_RAW], deny_list: true } } }
process_filter:
  uid: [0]
  binary: { name: [capsh], path: [/usr/sbin/capsh], prefix: ["/opt/a b/"] }
  deny_list: true
process_environment: { enabled: true, redact: ["*TOK[EN]*", "a:b #c"] }
sensitive_process_access: { enabled: true, processes: [] }
output_shaping: { deny: [MODULE_LOAD, Setuid] }
""")
    status, out, err = run([PROCMON, "--check-config", cfg])
    assert (status, out, err) == (0, f"{cfg}: ok\n", "")
    printed = round_trip(tmp_path, ["--config", cfg])
    lines = printed.splitlines()
    assert 'output: "/var/log/pro\\"c mon\\\\.jsonl"' in lines
    assert "      euid: [0, 1000]" in lines
    assert "      effective: [ANY, CAP_NET_RAW, CAP_SYS_ADMIN]" in lines
    assert '  listen: "[::1]:9464"' in lines
    assert "existing_process:" in lines and "  enabled: false" in lines
    assert "  processes: []" in lines
    assert '  deny: ["MODULE_LOAD", "Setuid"]' in lines
    # command-line overrides are part of the effective configuration
    status, printed, err = run([PROCMON, "--config", cfg, "--format", "bombini",
                                "--output", "/x.jsonl", "--print-config"])
    assert status == 0 and "format: bombini" in printed and 'output: "/x.jsonl"' in printed


def test_check_config_errors_name_file_line_key(tmp_path, exec_dir):
    pm = nobody_copy(exec_dir)
    cases = [
        ("setuid:\n  enabled: yes\n", ":2: key 'setuid.enabled': expected true or false"),
        ("metrics:\n  listen: localhost:9464\n", ":2: key 'metrics.listen': expected ADDRESS:PORT"),
        ("metrics: { listen: '127.0.0.1:0' }\n", ":1: key 'metrics.listen'"),
        ("metrics: { port: 1 }\n", ":1: key 'metrics.port': unknown key"),
        ("output_backups: 0\n", ":1: key 'output_backups': must be from 1 to 1000, got 0"),
        ("output_max_mb: -1\n", ":1: key 'output_max_mb'"),
        ("output_compress: 1\n", ":1: key 'output_compress'"),
        ("output_shaping:\n  deny: [Exec]\n", ":2: key 'output_shaping.deny[0]': unknown event type 'Exec'"),
    ]
    for i, (text, want) in enumerate(cases):
        f = write(exec_dir / f"bad{i}.yaml", text, 0o644, NOBODY)
        status, out, err = run([pm, "--check-config", f], user=NOBODY)
        assert status == 2, (text, out, err)
        assert out == ""
        # the first line: root would refuse a file of 65534's (a warning)
        assert "warning: procmon running as root would refuse" in err.splitlines()[0]
        assert err.splitlines()[-1].startswith(f"procmon: error: {f}{want}"), (text, err)
    status, _, err = run([pm, "--check-config", exec_dir / "absent.yaml"], user=NOBODY)
    assert status == 2 and "cannot read: No such file or directory" in err


def test_check_config_without_root_or_bpf(tmp_path, exec_dir):
    """uid 65534 checks a file of its own: syntax decides, and what root
    would refuse about the file is a warning. Root gets the refusal."""
    pm = nobody_copy(exec_dir)
    f = write(exec_dir / "mine.yaml", "ima_hash: false\nmetrics: { listen: 127.0.0.1:9464 }\n",
              0o644, NOBODY)
    status, out, err = run([pm, "--check-config", f], user=NOBODY)
    assert status == 0, err
    assert out == f"{f}: ok\n"
    assert "warning: procmon running as root would refuse the configuration" in err
    status, out, err = run([pm, "--check-config", f])
    assert status == 2 and out == ""
    assert "refusing the configuration" in err
    # a root-owned safe file: no warning at all, for either user
    os.chown(f, 0, 0)
    for user in (None, NOBODY):
        assert run([pm, "--check-config", f], user=user) == (0, f"{f}: ok\n", "")


def test_check_config_and_config_are_exclusive(tmp_path):
    f = write(tmp_path / "c.yaml", "")
    status, _, err = run([PROCMON, "--check-config", f, "--config", f])
    assert status == 2 and "give one of them" in err


def test_check_config_reports_every_error_at_once(tmp_path):
    """A file with several mistakes gets them all in one round, in file
    order, each naming file:line and the key; at start-up too."""
    f = write(tmp_path / "many.yaml", (
        "setuid:\n"
        "  enabled: maybe\n"                              # 2
        "bogus: 1\n"                                      # 3
        "process_filter:\n"
        "  uid: [1, x, 3]\n"                              # 5
        "capset:\n"
        "  cred_filter:\n"
        "    cap_filter:\n"
        "      effective: [CAP_NOPE, CAP_SYS_ADMIN, CAP_ZZZ]\n"  # 9
        "ring_buffer_kb: 3\n"                             # 10
        "prctl: {enabled: true}\n"                        # 11: fine
        "output_shaping: {deny: [Nope]}\n"))              # 12
    want = [
        f"procmon: error: {f}:2: key 'setuid.enabled': expected true or false, got 'maybe'",
        f"procmon: error: {f}:3: key 'bogus': unknown key",
        f"procmon: error: {f}:5: key 'process_filter.uid[1]': expected a non-negative integer, got 'x'",
        f"procmon: error: {f}:9: key 'capset.cred_filter.cap_filter.effective[0]': unknown capability 'CAP_NOPE'",
        f"procmon: error: {f}:9: key 'capset.cred_filter.cap_filter.effective[2]': unknown capability 'CAP_ZZZ'",
        f"procmon: error: {f}:10: key 'ring_buffer_kb': must be a power of two from 64 to 1048576, got 3",
        f"procmon: error: {f}:12: key 'output_shaping.deny[0]': unknown event type 'Nope' (a "
        "type such as ModuleLoad, a ProcessEvent sub-type such as Setuid, or a LimaCharlie "
        "event_type such as MODULE_LOAD)",
    ]
    status, out, err = run([PROCMON, "--check-config", f])
    assert (status, out) == (2, ""), err
    assert [l for l in err.splitlines() if "error:" in l] == want, err
    # start-up reads the file the same way: the same lines, exit 2
    status, out, err2 = run([PROCMON, "--config", f])
    assert status == 2
    assert [l for l in err2.splitlines() if "error:" in l] == \
        [l for l in err.splitlines() if "error:" in l]


def test_a_syntax_error_stops_the_walk(tmp_path):
    """Invalid YAML has no keys to walk: one error, its line."""
    f = write(tmp_path / "broken.yaml", "setuid:\n  enabled: maybe\nprctl: [\n")
    status, _, err = run([PROCMON, "--check-config", f])
    assert status == 2
    assert err.count("error:") == 1 and f"{f}:" in err and "invalid YAML" in err, err


def test_output_words_on_the_command_line_mean_what_they_mean_in_the_file(tmp_path):
    """--output none and --output - are what output: none and output: stdout
    are; any other word is a file (./none is a file named none)."""
    def printed_output(*args):
        status, out, err = run([PROCMON, *args, "--print-config"], cwd=tmp_path)
        assert status == 0, err
        return next(l for l in out.splitlines() if l.startswith("output: "))

    nats = ["--nats", "nats://127.0.0.1:4222"]
    cfg_none = write(tmp_path / "none.yaml", "output: none\nnats: {enabled: true}\n")
    assert printed_output("--output", "none", *nats) == 'output: "none"'
    assert printed_output("--config", cfg_none) == 'output: "none"'
    assert printed_output("--output", "-") == 'output: "stdout"'
    assert printed_output("--output", "stdout") == 'output: "stdout"'
    assert printed_output("--config", cfg_none, "--output", "-") == 'output: "stdout"'
    assert printed_output("--output", "./none") == 'output: "./none"'
    # none without a fleet output: refused as output: none is, nothing created
    status, _, err = run([PROCMON, "--output", "none", "--print-config"], cwd=tmp_path)
    assert status == 2 and "output: none without nats.enabled" in err, err
    status, _, err = run([PROCMON, "--output", "", "--print-config"], cwd=tmp_path)
    assert status == 2 and "--output" in err, err
    assert not (tmp_path / "none").exists() and not (tmp_path / "-").exists()

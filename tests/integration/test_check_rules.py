"""procmon --check-rules PATH... and --replay FILE --rules PATH... (contract
section 10, docs/detections.md).

Both run without root and without BPF. A directory of broken rules is
reported one line per rule (file:line: reason) and never crashes; the
shipped SigmaHQ rules all load; --replay finds, in recorded ProcessExec
lines, the detections the rules describe, and prints valid JSON however
hostile the recorded command line.
"""

import base64
import fnmatch
import functools
import json
import os
import random
import re
import shutil
import subprocess

from helpers import NOBODY, PROCMON, REPO

SHIPPED = REPO / "rules" / "sigma"

HEAD = """title: {title}
id: {id}
level: high
logsource:
    product: linux
    category: process_creation
detection:
"""


def run(args, user=None, stdin=subprocess.DEVNULL):
    pre = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user else []
    p = subprocess.run([*pre, *map(str, args)], stdin=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def rule(title, rid, detection):
    return HEAD.format(title=title, id=rid) + detection


def write(path, text, mode=0o644, owner=None):
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def copy_shipped(dst):
    """The shipped rules in a root-owned copy (the checkout's modes and
    owner are whatever the clone made them)."""
    shutil.copytree(SHIPPED, dst)
    for root, dirs, files in os.walk(dst):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return dst


def test_shipped_rules_all_load(tmp_path, exec_dir):
    rules = copy_shipped(exec_dir / "sigma")
    n_files = len(list((SHIPPED / "process_creation").glob("*.yml")))
    pm = exec_dir / "procmon"
    shutil.copyfile(PROCMON, pm)
    os.chmod(pm, 0o755)
    # as root, and as a user with no privilege at all: the same verdict
    for user in (None, NOBODY):
        status, out, err = run([pm, "--check-rules", rules], user=user)
        assert (status, err) == (0, ""), out + err
        assert out == f"{n_files} rules loaded, 0 skipped (other logsource), 0 unsupported\n"
    assert n_files >= 100


BROKEN = {
    # name: (text, line, reason)
    "not_yaml.yml": ("title: x\n  bad: [indent\n", 2, "not YAML"),
    "not_sigma.yml": ("- just\n- a list\n", 1, "not a Sigma rule: not a mapping"),
    "no_detection.yml": ("title: x\nlogsource: {product: linux, category: process_creation}\n",
                         1, "not a Sigma rule: no detection"),
    "unknown_modifier.yml": (rule("u", "u1", "    sel:\n        CommandLine|containz: x\n"
                                  "    condition: sel\n"), 9, "unknown modifier 'containz'"),
    "bad_regex.yml": (rule("r", "r1", "    sel:\n        CommandLine|re: '(unclosed'\n"
                           "    condition: sel\n"), 9, "regex rejected by PCRE2"),
    "no_selection.yml": (rule("c", "c1", "    sel:\n        Image: /x\n"
                              "    condition: sel and not filter\n"), 10,
                         "condition names no selection 'filter'"),
    "no_fact.yml": (rule("f", "f1", "    sel:\n        Hashes|contains: abc\n"
                         "    condition: sel\n"), 9, "field 'Hashes'"),
    "binary.yaml": (b"\xff\xfe\x00garbage\x00", 1, "not YAML"),
    "deep.yml": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "not a Sigma rule"),
    "billion.yml": ("a: &a [x, x, x, x, x, x, x, x, x]\n"
                    + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                              for p, c in zip("abcdefgh", "bcdefghi"))
                    + "title: t\nlogsource: {product: linux, category: process_creation}\n"
                    + "detection: {sel: {Image: *i}, condition: sel}\n", 11, "rule"),
}


def test_broken_rules_each_reported_with_file_line(tmp_path, exec_dir):
    d = exec_dir / "broken"
    d.mkdir()
    os.chmod(d, 0o755)
    for name, (text, _, _) in BROKEN.items():
        write(d / name, text)
    good = write(d / "good.yml", rule("good", "g1", "    sel:\n        Image|endswith: /nc\n"
                                      "    condition: sel\n"))
    other = write(d / "windows.yml", "title: w\nlogsource: {product: windows, category: "
                  "process_creation}\ndetection: {s: {Image: x}, condition: s}\n")
    # another user may write this one: refused as the configuration would be
    unsafe = write(d / "unsafe.yml", rule("unsafe", "s1", "    sel:\n        Image: /x\n"
                                          "    condition: sel\n"), 0o666)
    write(d / "README.txt", "not a rule: not read\n")
    # not files to read: a FIFO (no writer: must not hang), a link loop,
    # a device; and a link up the tree, which is not walked
    os.mkfifo(d / "fifo.yml")
    os.symlink("loop.yml", d / "loop.yml")
    os.symlink("/dev/zero", d / "zero.yml")
    (d / "sub").mkdir()
    os.chmod(d / "sub", 0o755)
    os.symlink("..", d / "sub" / "up")
    odd = {"fifo.yml": "not a regular file", "loop.yml": "cannot open",
           "zero.yml": "not a regular file"}
    status, out, err = run([PROCMON, "--check-rules", d])
    assert status == 2, out + err
    assert err == ""
    lines = out.splitlines()
    assert lines[-1] == (f"1 rules loaded, 1 skipped (other logsource), "
                         f"{len(BROKEN) + len(odd) + 1} unsupported")
    problems = {}
    for ln in lines[:-1]:
        path, rest = ln.split(":", 1)
        problems[os.path.basename(path)] = rest
    assert set(problems) == set(BROKEN) | set(odd) | {"unsafe.yml"}, out
    for name, reason in odd.items():
        assert reason in problems[name], (name, problems[name])
    for name, (_, line, reason) in BROKEN.items():
        got = problems[name]
        if name == "billion.yml":
            # aliases that multiply to 9^9 nodes: refused, not walked
            assert got.split(": ", 1)[1], got
            continue
        assert got.startswith(f"{line}: "), (name, got)
        assert reason in got, (name, got)
    assert "writable" in problems["unsafe.yml"] or "unsafe" in problems["unsafe.yml"]
    # good, other stay usable next to the broken ones
    assert good.exists() and other.exists()


def test_check_rules_usage_and_missing(tmp_path):
    status, out, err = run([PROCMON, "--check-rules"])
    assert status == 2 and "usage" in err
    status, out, err = run([PROCMON, "--check-rules", tmp_path / "absent"])
    assert status == 2
    assert out.splitlines() == [f"{tmp_path / 'absent'}: cannot read: No such file or directory",
                                "0 rules loaded, 0 skipped (other logsource), 1 unsupported"]


def exec_line(eid, binary, argv0, args, cwd="/home/u", parent=("/usr/bin/bash", "bash", "")):
    proc = {"pid": 4242, "tid": 4242, "ppid": 4000, "uid": 1000, "euid": 1000, "auid": 1000,
            "filename": os.path.basename(binary), "binary_path": binary, "args": args,
            "argv0": argv0, "exec_id": "0" * 32, "cwd": cwd}
    par = {"pid": 4000, "ppid": 1, "uid": 1000, "euid": 1000, "auid": 1000,
           "filename": os.path.basename(parent[0]), "binary_path": parent[0],
           "args": parent[2], "argv0": parent[1]}
    return json.dumps({"type": "ProcessExec", "process": proc, "parent": par,
                       "timestamp": "2026-12-08T01:00:00.123Z", "host": "h1",
                       "event_id": eid, "seq": 1}, separators=(",", ":"))


def shipped_rule_id(name):
    for line in (SHIPPED / "process_creation" / name).read_text().splitlines():
        if line.startswith("id: "):
            return line[4:].strip()
    raise AssertionError(name)


def test_replay_finds_what_the_rules_describe(tmp_path):
    rules = copy_shipped(tmp_path / "sigma")
    payload = base64.b64encode(b"id; uname -a\n").decode()
    events = [
        exec_line("e-crontab", "/usr/bin/crontab", "crontab", "-r"),
        exec_line("e-chattr", "/usr/bin/chattr", "chattr", "-i /etc/hosts"),
        exec_line("e-b64", "/usr/bin/base64", "base64", "-d"),
        exec_line("e-hist", "/usr/bin/rm", "rm", "-f /root/.bash_history"),
        exec_line("e-git", "/usr/bin/git", "git", "status --porcelain"),
        exec_line("e-make", "/usr/bin/make", "make", "-j2"),
        # hostile: invalid UTF-8 replaced, control characters, quotes
        exec_line("e-hostile", "/usr/bin/crontab", "crontab", "-r \ufffd\"\n\t\u2028\\"),
        json.dumps({"type": "ProcessExit", "process": {"pid": 1}}),
        "not json at all",
        "",
        '{"type":"ProcessExec","process":{"pid":1,',
        '{"type":"ProcessExec","process":"not an object"}',
        exec_line("e-echo", "/usr/bin/bash", "bash", f"-c echo {payload}"),
    ]
    f = write(tmp_path / "events.jsonl", "\n".join(events) + "\n")
    status, out, err = run([PROCMON, "--replay", f, "--rules", rules], user=None)
    assert status == 0, err
    dets = [json.loads(ln) for ln in out.splitlines()]
    got = {(d["matched_event_id"], d["rule"]["id"]) for d in dets}
    want = {
        ("e-crontab", shipped_rule_id("proc_creation_lnx_crontab_removal.yml")),
        ("e-hostile", shipped_rule_id("proc_creation_lnx_crontab_removal.yml")),
        ("e-chattr", shipped_rule_id("proc_creation_lnx_chattr_immutable_removal.yml")),
        ("e-b64", shipped_rule_id("proc_creation_lnx_base64_decode.yml")),
        ("e-hist", shipped_rule_id("proc_creation_lnx_susp_history_delete.yml")),
    }
    assert want <= got, got
    # nothing on the benign ones at level high or critical
    assert not [d for d in dets if d["matched_event_id"] in ("e-git", "e-make")
                and d["rule"]["level"] in ("high", "critical")]
    for d in dets:
        assert d["type"] == "Detection"
        assert d["timestamp"] == "2026-12-08T01:00:00.123Z"
        assert d["host"] == "h1"
        assert set(d["rule"]) == {"id", "title", "level", "status", "tags", "file"}
        assert d["rule"]["file"].startswith(str(rules))
        assert d["process"]["pid"] == 4242 and d["parent"]["pid"] == 4000
    hostile = [d for d in dets if d["matched_event_id"] == "e-hostile"][0]
    assert hostile["process"]["args"] == "-r \ufffd\"\n\t\u2028\\"
    # lines that are not a ProcessExec are passed over unparsed
    assert "13 lines, 8 ProcessExec, 3 other, 2 unreadable" in err, err


def test_replay_without_root_reads_stdin(tmp_path, exec_dir):
    d = exec_dir / "r"
    d.mkdir()
    os.chmod(d, 0o755)
    write(d / "one.yml", rule("one", "o1", "    sel:\n        CommandLine|contains|all:\n"
                              "            - 'nc '\n            - ' -e '\n"
                              "    condition: sel\n"), owner=NOBODY)
    pm = exec_dir / "procmon"
    shutil.copyfile(PROCMON, pm)
    os.chmod(pm, 0o755)
    line = exec_line("e1", "/usr/bin/nc", "nc", "-e /bin/sh 127.0.0.1 9") + "\n"
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        pm, "--replay", "-", "--rules", d], input=line.encode(),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    (det,) = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert det["rule"]["id"] == "o1" and det["matched_event_id"] == "e1"


def test_replay_usage(tmp_path):
    for args in (["--replay"], ["--replay", tmp_path / "x"],
                 ["--replay", tmp_path / "x", "--rules"],
                 ["--check-rules", tmp_path, "--replay", tmp_path / "x"],
                 ["--replay", tmp_path / "x", "--rules", tmp_path, "--format", "bombini"]):
        status, out, err = run([PROCMON, *args])
        assert status == 2 and "usage" in err, (args, err)


# ---- a second, independent reading of Sigma, to check the engine against

@functools.lru_cache(maxsize=None)
def _sigma_re(value, mods):
    """A Sigma value as a Python regex: Sigma's wildcards and escaping."""
    out, i = "", 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out += re.escape(value[i + 1])
            i += 2
            continue
        out += ".*" if c == "*" else "." if c == "?" else re.escape(c)
        i += 1
    if "contains" in mods or "endswith" in mods:
        out = ".*" + out
    if "contains" in mods or "startswith" in mods:
        out = out + ".*"
    return out


@functools.lru_cache(maxsize=None)
def _compiled(pattern, flags):
    return re.compile(pattern, flags)


def _item(event, key, values):
    field, *mods = key.split("|")
    got = event.get(field)
    vals = values if isinstance(values, list) else [values]

    def one(v):
        if v is None:
            return got is None
        if got is None:
            return False
        if "re" in mods:
            flags = (re.I if "i" in mods else 0) | (re.M if "m" in mods else 0) | \
                (re.S if "s" in mods else 0)
            return _compiled(v, flags | re.A).search(got) is not None
        v = ("true" if v else "false") if isinstance(v, bool) else str(v)
        flags = re.S | re.A | (0 if "cased" in mods else re.I)
        return _compiled(_sigma_re(v, tuple(mods)), flags).fullmatch(got) is not None
    return all(map(one, vals)) if "all" in mods else any(map(one, vals))


def _selection(event, sel):
    maps = sel if isinstance(sel, list) else [sel]
    return any(all(_item(event, k, v) for k, v in m.items()) for m in maps)


@functools.lru_cache(maxsize=None)
def _tokens(text):
    return tuple(re.findall(r"\(|\)|[^\s()]+", text))


def _condition(text, names, sel):
    toks = _tokens(text)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take():
        pos[0] += 1
        return toks[pos[0] - 1]

    def primary():
        t = take()
        if t == "(":
            v = expr()
            assert take() == ")"
            return v
        if t in ("1", "all") and peek() == "of":
            take()
            pat = take()
            chosen = [n for n in names if (not n.startswith("_") if pat == "them"
                                           else fnmatch.fnmatchcase(n, pat))]
            return (any if t == "1" else all)(sel(n) for n in chosen)
        return sel(t)

    def unary():
        if peek() == "not":
            take()
            return not unary()
        return primary()

    def conj():
        v = unary()
        while peek() == "and":
            take()
            r = unary()
            v = v and r
        return v

    def expr():
        v = conj()
        while peek() == "or":
            take()
            r = conj()
            v = v or r
        return v
    return expr()


def oracle(rule, event):
    det = rule["detection"]
    names = [k for k in det if k != "condition"]
    conds = det["condition"] if isinstance(det["condition"], list) else [det["condition"]]
    return any(_condition(c, names, lambda n: _selection(event, det[n])) for c in conds)


def test_replay_agrees_with_an_independent_reading(tmp_path):
    """Every shipped rule over events made of the rules' own values: the
    engine (Hyperscan prefilter, then exact checks) and a plain Python
    reading of the same rules must name the same rules for each event."""
    import yaml  # python3-yaml: the test's own YAML reader

    rules_dir = copy_shipped(tmp_path / "sigma")
    rules = {}
    vals = {"Image": [], "CommandLine": [], "ParentImage": [], "ParentCommandLine": []}
    for path in sorted((rules_dir / "process_creation").glob("*.yml")):
        r = yaml.safe_load(path.read_text())
        rules[r["id"]] = r
        for k, sel in r["detection"].items():
            for m in ((sel if isinstance(sel, list) else [sel]) if k != "condition" else []):
                for fk, v in m.items():
                    f = fk.split("|")[0]
                    if f in vals and "|re" not in fk:
                        vals[f] += [x.replace("*", "") for x in (v if isinstance(v, list) else [v])
                                    if isinstance(x, str)]
    rnd = random.Random(24)
    lines, events = [], []
    for i in range(1500):
        img = rnd.choice(vals["Image"]) if rnd.random() < 0.6 else "/usr/bin/true"
        img = img if img.startswith("/") else "/usr/bin/" + img.lstrip("/")
        args = " ".join(rnd.choice(vals["CommandLine"]) for _ in range(rnd.randint(0, 3)))
        if rnd.random() < 0.2:
            args = args.upper()
        pimg = rnd.choice(vals["ParentImage"]) if rnd.random() < 0.3 else "/usr/bin/bash"
        pargs = rnd.choice(vals["ParentCommandLine"]) if rnd.random() < 0.2 else ""
        argv0 = os.path.basename(img)
        lines.append(exec_line(f"e{i}", img, argv0, args, cwd=rnd.choice(["/tmp", "/root", "/"]),
                               parent=(pimg, "sh", pargs)))
        events.append({"Image": img, "CommandLine": argv0 + (" " + args if args else ""),
                       "ParentImage": pimg, "ParentCommandLine": "sh" + (" " + pargs if pargs else ""),
                       "CurrentDirectory": json.loads(lines[-1])["process"]["cwd"],
                       "OriginalFileName": argv0, "ProcessId": "4242", "ParentProcessId": "4000",
                       "LogonId": "1000", "User": None})
    f = write(tmp_path / "events.jsonl", "\n".join(lines) + "\n")
    status, out, err = run([PROCMON, "--replay", f, "--rules", rules_dir])
    assert status == 0, err
    got = {}
    for ln in out.splitlines():
        d = json.loads(ln)
        got.setdefault(d["matched_event_id"], set()).add(d["rule"]["id"])
    fired = set()
    for i, ev in enumerate(events):
        want = {rid for rid, r in rules.items() if oracle(r, ev)}
        assert got.get(f"e{i}", set()) == want, (lines[i], want, got.get(f"e{i}"))
        fired |= want
    assert len(fired) >= 30, len(fired)  # the corpus exercises many rules

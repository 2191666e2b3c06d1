#!/usr/bin/env python3
"""`make test`: every suite runs, whatever the one before it did, then one
line counts them all.

    tests/run_suites.py [--build DIR] [--unit 'BIN ...'] [SUITE ...]     (unit integration fleet faults)

Unit tests are the cmocka binaries build/tests/test_*; the other suites are
pytest directories, counted from the JUnit XML pytest writes. The output is
each suite's own, then each suite's peak RSS (the pytest process's own,
and the largest process of the suite: procmon and nats-server included),
one count line per suite and last, alone on its line:

    N passed, N failed, N skipped

The exit status is 1 when anything failed (or a suite could not be counted,
which counts as one failure), else 0. Skips do not fail here; .ci/run
refuses them.
"""

import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTEST_SUITES = ("integration", "fleet", "faults")
PASSED_RE = re.compile(rb"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
FAILED_RE = re.compile(rb"^\[  FAILED  \] (\d+) test\(s\)", re.M)


class Count:
    def __init__(self, passed=0, failed=0, skipped=0):
        self.passed, self.failed, self.skipped = passed, failed, skipped

    def add(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped

    def line(self):
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


PEAK_RSS_KB = {}  # suite -> the largest maxrss of its processes (wait4), KiB
PYTEST_RSS_KB = {}  # suite -> the pytest process's own peak (rss_report.py), KiB


def tee(cmd, suite, keep=True, **kw):
    """Run cmd with its output passed through; returns (status, output,
    kept only when keep). Notes the process tree's peak RSS for suite."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    out = bytearray()
    for chunk in iter(lambda: p.stdout.read1(65536), b""):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        if keep:
            out += chunk
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    PEAK_RSS_KB[suite] = max(PEAK_RSS_KB.get(suite, 0), usage.ru_maxrss)
    return p.returncode, bytes(out)


def run_unit(build, bins):
    total = Count()
    bins = [Path(b) for b in bins] if bins else sorted(build.glob("tests/test_*"))
    if not bins:
        print(f"run_suites: no unit test binaries in {build}/tests", flush=True)
        return Count(failed=1)
    for b in bins:
        print(f"== {b}", flush=True)
        status, out = tee([str(b)], "unit")
        passed = sum(int(n) for n in PASSED_RE.findall(out))
        failed = sum(int(n) for n in FAILED_RE.findall(out))
        if status != 0 and failed == 0:
            failed = 1  # crashed, or failed before cmocka could count
            print(f"run_suites: {b.name} exited with status {status}", flush=True)
        total.add(Count(passed, failed))
    return total


def run_pytest(suite, build):
    results = build / "test-results"
    results.mkdir(parents=True, exist_ok=True)
    xml = results / f"{suite}.xml"
    xml.unlink(missing_ok=True)
    rss = results / f"{suite}.rss"
    rss.unlink(missing_ok=True)
    env = dict(os.environ, PROCMON_RSS_FILE=str(rss),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "tests"),
                                                        os.environ.get("PYTHONPATH")])))
    status, _ = tee([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                     "-p", "rss_report", "-rs", "-v", f"--junitxml={xml}",
                     f"tests/{suite}"], suite, keep=False, cwd=REPO, env=env)
    try:
        PYTEST_RSS_KB[suite] = int(rss.read_text())
    except (OSError, ValueError):
        pass
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"run_suites: {suite}: no results ({e}); pytest exited {status}", flush=True)
        return Count(failed=1)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    c = Count()
    for s in suites:
        n, fail, err, skip = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        c.add(Count(n - fail - err - skip, fail + err, skip))
    if status not in (0, 1) and c.failed == 0:
        c.failed = 1  # pytest itself failed: interrupted, usage or internal error
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--unit", default="", help="the unit test binaries, "
                    "space-separated (default: BUILD/tests/test_*)")
    ap.add_argument("suites", nargs="*", default=["unit", *PYTEST_SUITES])
    args = ap.parse_args()
    build = Path(args.build).resolve()
    counts = {}
    for suite in args.suites:
        print(f"\n==== {suite} ====", flush=True)
        counts[suite] = run_unit(build, args.unit.split()) if suite == "unit" else run_pytest(suite, build)
    total = Count()
    print()
    for suite in counts:
        own = f"test process {PYTEST_RSS_KB[suite] // 1024} MB, " if suite in PYTEST_RSS_KB else ""
        print(f"{suite}: peak RSS: {own}largest process of the suite "
              f"{PEAK_RSS_KB.get(suite, 0) // 1024} MB")
    for suite, c in counts.items():
        print(f"{suite}: {c.line()}")
        total.add(c)
    print(total.line(), flush=True)
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())

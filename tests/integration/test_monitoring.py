"""The monitoring the package ships under /usr/share/procmon: the
Prometheus alert rules (packaging/prometheus), checked and unit-tested
with the real promtool, and the Grafana dashboard (packaging/grafana),
whose queries may name only metrics a real procmon serves: compared with
a scrape of a live procmon that has the fleet output on (so the
procmon_fleet_* series exist), no server reachable.
"""

import json
import os
import re
import shutil
import subprocess

from helpers import REPO, Procmon
from test_metrics import free_port, get, parse

PROMETHEUS = REPO / "packaging" / "prometheus"
DASHBOARD = REPO / "packaging" / "grafana" / "procmon.json"
METRIC_RE = re.compile(r"\bprocmon_[a-z_]+\b")


def promtool(*args):
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: scripts/install-deps.sh installs prometheus"
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120,
                       cwd=PROMETHEUS)
    return p.returncode, p.stdout + p.stderr


def test_alert_rules_pass_promtool_check():
    status, out = promtool("check", "rules", "procmon.rules.yml")
    assert status == 0 and "SUCCESS: 5 rules found" in out, out


def test_alert_rules_fire_and_stay_quiet_on_synthetic_series():
    """promtool test rules: each alert (sensor down, probes detached,
    events dropped, fleet events dropped, spool growing) fires on the
    series that should fire it, with its labels and text, and not before
    its `for:` or on the series beside it that should not."""
    status, out = promtool("test", "rules", "procmon.rules.test.yml")
    assert status == 0 and "SUCCESS" in out, out
    tests = (PROMETHEUS / "procmon.rules.test.yml").read_text()
    for alert in ("ProcmonDown", "ProcmonProbesDetached", "ProcmonDroppingEvents",
                  "ProcmonFleetDroppingEvents", "ProcmonFleetSpoolGrowing"):
        assert f"alertname: {alert}\n" in tests, f"{alert} has no test"


def dashboard_exprs(dash):
    """Every PromQL expression of the dashboard: panel targets (rows
    included) and template variable queries."""
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            exprs.append(q["query"])
    return exprs


def scrape_with_fleet(tmp_path):
    """The metric names a live procmon serves, fleet output on."""
    d = tmp_path / "pm"
    d.mkdir(mode=0o700)
    port = free_port()
    cfg = d / "procmon.yaml"
    cfg.write_text(f'metrics: {{ listen: "127.0.0.1:{port}" }}\n'
                   f"output: {d / 'events.jsonl'}\n"
                   "nats:\n  enabled: true\n"
                   f'  servers: ["nats://127.0.0.1:{free_port()}"]\n'
                   f"  spool_dir: {d / 'spool'}\n")
    os.chmod(cfg, 0o600)
    pm = Procmon("--config", cfg)
    try:
        pm.wait_ready()
        status, page = get(port, "/metrics")
    finally:
        rc = pm.stop()
    assert status == 200, page
    assert rc == 0, pm.stderr_tail()
    return {name for name, _ in parse(page)}


def test_dashboard_parses_and_names_only_served_metrics(tmp_path):
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] == "procmon" and dash["panels"]
    exprs = dashboard_exprs(dash)
    used = set(METRIC_RE.findall("\n".join(exprs)))
    served = scrape_with_fleet(tmp_path)
    assert used and not used - served, f"not served by procmon: {sorted(used - served)}"
    # and the alert rules the same way
    rules = (PROMETHEUS / "procmon.rules.yml").read_text()
    in_rules = set(METRIC_RE.findall(rules))
    assert in_rules and not in_rules - served, f"not served: {sorted(in_rules - served)}"
    # every panel has a query, each with a unique refId
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]


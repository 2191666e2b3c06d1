#!/usr/bin/env python3
"""make bench, simulated fleet phase: many procmon hosts against a local
3-node JetStream cluster (R3 streams) and against a single node, loopback
only, bounded in time.

1. Records a sample of real procmon events with build/procmon on this
   machine: an exec storm and a build-like workload (gcc compiling the
   bench's C files), the workloads' own process trees only.
2. For each target, in alternating rounds: fresh nats-servers with their
   own stores, the partition streams created (R3 on the cluster, their
   leaders spread over the nodes), then build/bench/fleet_sim
   (bench/fleet_sim.c: procmon's own fleet and spool code) runs HOSTS
   simulated hosts, each with its own connection, host name, run id and
   seq, replaying the sample at RATE events/s per host for S seconds;
   then the same hosts as fast as acknowledgements come back for SAT_S
   seconds (the target's capacity).
3. Reports events/s acknowledged, nats-server CPU per event (all the
   target's servers, /proc/PID/stat), bytes stored per event (stream
   info, one replica), delivery lag (handed to the fleet output ->
   acknowledged) p50/p99 and the worst host's p99, and the hosts at 100
   execs/s the capacity absorbs.

Knobs (environment), defaults in brackets:
  FLEET_SIM          1 (0 skips the phase)
  FLEET_SIM_HOSTS    500   simulated hosts
  FLEET_SIM_RATE     500   events/s per host in the paced run
  FLEET_SIM_S        10    seconds of the paced run
  FLEET_SIM_SAT_S    10    seconds of the saturating run (0 skips it)
  FLEET_SIM_PARTITIONS 3   nats.partitions of every host
  FLEET_SIM_ROUNDS   1     rounds of (cluster, single node), alternating
  FLEET_SIM_THREADS  2     generator threads of fleet_sim
  FLEET_SIM_STORM_N  500   execs of the recorded storm
  FLEET_SIM_SAMPLE   -     a sample file to use instead of recording one

Exit status: 0 when every measurement was taken (targets met or not), 1
when one could not be taken, 2 for bad knobs.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
import conftest as fleet  # noqa: E402  (ServerSet, cluster, spread_leaders)
import helpers  # noqa: E402  (on the path through conftest)

SIM = ROOT / "build" / "bench" / "fleet_sim"
OUT = ROOT / "build" / "bench" / "fleet_sim.json"
TAG = "procmon-bench-fleetsim-"  # in every nats-server's argv (its store): ours
TARGET_EPS, TARGET_HOSTS, TARGET_P99_MS = 250_000, 500, 2000
EXECS_PER_HOST = 100  # "hosts at 100 execs/s"


def knob(name, default, kind=int):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        x = kind(v)
    except ValueError:
        print(f"fleet_sim: {name}={v!r}: expected {kind.__name__}", file=sys.stderr)
        sys.exit(2)
    return x


HOSTS = knob("FLEET_SIM_HOSTS", 500)
RATE = knob("FLEET_SIM_RATE", 500, float)
SECONDS = knob("FLEET_SIM_S", 10, float)
SAT_S = knob("FLEET_SIM_SAT_S", 10, float)
PARTS = knob("FLEET_SIM_PARTITIONS", 3)
ROUNDS = knob("FLEET_SIM_ROUNDS", 1)
THREADS = knob("FLEET_SIM_THREADS", 2)
STORM_N = knob("FLEET_SIM_STORM_N", 500)
SAMPLE = os.environ.get("FLEET_SIM_SAMPLE", "")


def log(msg=""):
    print(msg, flush=True)


class Failed(Exception):
    pass


# ------------------------------------------------------------------ the sample

def descendants(lines, roots):
    """The events of the roots' process trees (clone events name the parent)."""
    pids, out = set(roots), []
    for raw in lines:
        ev = json.loads(raw)
        p = ev.get("process") or {}
        if p.get("ppid") in pids:
            pids.add(p.get("pid"))
        if p.get("pid") in pids:
            out.append(raw)
    return out


def exited(path, pid):
    """The file's last MiB has the ProcessExit of pid."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - (1 << 20)))
            tail = f.read()
    except OSError:
        return False
    return any(l.startswith(b'{"type":"ProcessExit"') and f'"pid":{pid},'.encode() in l
               for l in tail.split(b"\n"))


def record_sample(base):
    """Real procmon events of an exec storm and a build-like workload."""
    rec = base / "recorded.jsonl"
    pm = helpers.Procmon("--output", rec).wait_ready()
    try:
        storm = subprocess.Popen(["/bin/sh", "-c", f'i=0; while [ $i -lt {STORM_N} ]; do '
                                  f'/bin/true fleet-sim-storm $i; i=$((i+1)); done'])
        storm.wait()
        # make -j2 building the test programs and bench tools: make, sh,
        # gcc, cc1, as, collect2, ld, with long varied command lines
        src = base / "src"
        src.mkdir()
        progs = [ROOT / "bench" / f"{n}.c" for n in ("exec_storm", "idle_procs", "loop")]
        progs += sorted((ROOT / "tests" / "progs").glob("*.c"))
        for c in progs:
            shutil.copy(c, src)
        build = subprocess.Popen(["make", "-k", "-j2", "-s", "CFLAGS=-O1 -g", "LDLIBS=-lpthread",
                                  *[c.stem for c in progs]],
                                 cwd=src, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        build.wait()
        # the build's last event reaches the file: its shell's exit
        helpers.wait_until(lambda: exited(rec, build.pid), "the workloads in the recording", 30)
    finally:
        if pm.stop() != 0:
            raise Failed(f"recording procmon exited badly: {pm.stderr_tail()}")
    lines = rec.read_bytes().split(b"\n")
    lines = [l for l in lines if l]
    parts = {}
    for name, root in (("storm", storm.pid), ("build", build.pid)):
        mine = descendants(lines, [root])
        execs = sum(json.loads(l)["type"] == "ProcessExec" for l in mine)
        if not execs:
            raise Failed(f"the recording holds no execs of the {name} workload")
        parts[name] = {"events": len(mine), "execs": execs,
                       "events_per_exec": len(mine) / execs,
                       "bytes_per_event": sum(map(len, mine)) / len(mine), "lines": mine}
    sample = base / "sample.jsonl"
    sample.write_bytes(b"".join(l + b"\n" for p in parts.values() for l in p["lines"]))
    for p in parts.values():
        del p["lines"]
    return sample, parts


def sample_stats(path):
    lines = [l for l in Path(path).read_bytes().split(b"\n") if l]
    execs = sum(json.loads(l)["type"] == "ProcessExec" for l in lines) or 1
    return {"all": {"events": len(lines), "execs": execs, "events_per_exec": len(lines) / execs,
                    "bytes_per_event": sum(map(len, lines)) / max(1, len(lines))}}


# ------------------------------------------------------------------ targets

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def servers_cpu_s(nodes):
    return sum(cpu_ticks(n.proc.pid) for n in nodes) / os.sysconf("SC_CLK_TCK")


def streams_bytes(node, streams):
    with node.client() as c:
        return sum(c.stream_info(s)["state"]["bytes"] for s in streams)


def make_streams(nodes, replicas):
    """The partition streams, as procmon would create them, leaders spread."""
    streams = [f"PROCMON_{p}" for p in range(PARTS)] if PARTS > 1 else ["PROCMON"]
    def create(p, name):
        subject = f"procmon.{p}.>" if PARTS > 1 else "procmon.>"
        try:  # a new cluster answers once it has elected its JetStream leader
            with nodes[0].client() as c:
                c.api(f"$JS.API.STREAM.CREATE.{name}", {
                    "name": name, "subjects": [subject], "retention": "limits",
                    "storage": "file", "num_replicas": replicas, "discard": "old",
                    "max_age": 7 * 24 * 3600 * 10**9, "duplicate_window": 120 * 10**9})
                return True
        except (OSError, fleet.natsproto.NatsError) as e:
            return "already in use" in str(e)
    for p, name in enumerate(streams):
        helpers.wait_until(lambda: create(p, name), f"stream {name} created", 60, 0.2)
    if replicas > 1:
        fleet.spread_leaders(nodes[0], streams)
    return streams


def run_sim(nodes, sample, spools, rate, seconds, tag, base):
    urls = ",".join(n.url for n in nodes)
    err = base / f"sim-{tag}.err"
    shutil.rmtree(spools, ignore_errors=True)
    cmd = [str(SIM), "--servers", urls, "--sample", str(sample), "--spool-base", str(spools),
           "--hosts", str(HOSTS), "--rate", str(rate), "--seconds", str(seconds),
           "--threads", str(THREADS), "--partitions", str(PARTS),
           "--drain", str(max(10.0, seconds))]
    with open(err, "wb") as ef:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=ef,
                           timeout=seconds * 5 + 180)
    shutil.rmtree(spools, ignore_errors=True)
    try:
        return json.loads(r.stdout)
    except ValueError:
        tail = err.read_text(errors="replace")[-1500:]
        raise Failed(f"fleet_sim exited {r.returncode}, no result: {tail}")


def measure(target, base, sample, rnd):
    """One target: fresh servers, the paced run, the saturating run."""
    d = base / f"{target}-{rnd}"
    d.mkdir()
    servers = fleet.ServerSet(d)
    spools = Path(tempfile.mkdtemp(prefix=TAG, dir="/dev/shm"))  # memory, not the disk
    try:
        if target == "cluster":
            nodes = fleet.cluster(servers)
            replicas = 3
        else:
            nodes = [servers("single").start()]
            replicas = 1
        streams = make_streams(nodes, replicas)
        res = {"target": target, "replicas": replicas, "streams": len(streams)}
        for kind, rate, secs in (("paced", RATE, SECONDS), ("saturated", 0, SAT_S)):
            if secs <= 0:
                continue
            b0, c0 = streams_bytes(nodes[0], streams), servers_cpu_s(nodes)
            r = run_sim(nodes, sample, spools, rate, secs, f"{target}-{rnd}-{kind}", d)
            cpu = servers_cpu_s(nodes) - c0
            stored = streams_bytes(nodes[0], streams) - b0
            ev = max(1, r["acked"])
            r["server_cpu_us_per_event"] = cpu * 1e6 / ev
            # the hosts' fleet outputs (batching, zstd, spool, libnats) and the replay
            r["client_cpu_us_per_event"] = r["sim_cpu_s"] * 1e6 / max(1, r["offered"])
            r["stored_bytes_per_event"] = stored / ev
            # the whole run's messages formed, warm-up included
            r["events_per_message"] = r["events_published"] / max(1, r["messages"])
            r["compression"] = r["line_bytes"] / max(1, r["body_bytes"])
            res[kind] = r
        return res
    finally:
        servers.stop()
        shutil.rmtree(spools, ignore_errors=True)


# ------------------------------------------------------------------ report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(results, parts):
    # as replayed: the whole sample's events per exec
    epe = sum(p["events"] for p in parts.values()) / sum(p["execs"] for p in parts.values())
    out = {}
    for target in ("cluster", "single"):
        rs = [r for r in results if r["target"] == target]
        s = {}
        for kind in ("paced", "saturated"):
            runs = [r[kind] for r in rs if kind in r]
            if not runs:
                continue
            s[kind] = {k: med([x[k] for x in runs]) for k in runs[0] if
                       isinstance(runs[0][k], (int, float))}
        if "saturated" in s:
            s["hosts_at_100_execs_s"] = int(s["saturated"]["events_per_s_acked"]
                                            / (EXECS_PER_HOST * epe))
            # the servers alone on this machine's CPUs, the hosts elsewhere
            # (as in a fleet): its CPUs / server CPU per event
            s["hosts_at_100_execs_s_servers_only"] = int(
                os.cpu_count() / (s["saturated"]["server_cpu_us_per_event"] * 1e-6)
                / (EXECS_PER_HOST * epe))
        out[target] = s
    return out


def report(summary, parts):
    log("-- simulated fleet: results (median of rounds)")
    for name, p in parts.items():
        log(f"  sample {name}: {p['events']} events, {p['execs']} execs, "
            f"{p['events_per_exec']:.2f} events/exec, {p['bytes_per_event']:.0f} B/event")
    for target, s in summary.items():
        for kind in ("paced", "saturated"):
            r = s.get(kind)
            if not r:
                continue
            log(f"  {target:7s} {kind:9s}: {r['hosts']:.0f} hosts x "
                f"{'max' if not r['rate_per_host'] else int(r['rate_per_host'])} ev/s: "
                f"{r['events_per_s_acked']:,.0f} events/s acked ({r['acked']:,.0f} of "
                f"{r['offered']:,.0f}), lag p50 {r['lag_ms_p50']:.0f} ms p99 "
                f"{r['lag_ms_p99']:.0f} ms (worst host p99 {r['worst_host_lag_ms_p99']:.0f} ms), "
                f"server CPU {r['server_cpu_us_per_event']:.2f} us/event (hosts' "
                f"{r['client_cpu_us_per_event']:.2f}), stored "
                f"{r['stored_bytes_per_event']:.0f} B/event, {r['events_per_message']:.1f} "
                f"events/message, compression {r['compression']:.1f}x, dropped {r['dropped']:.0f}")
        if "hosts_at_100_execs_s" in s:
            log(f"  {target:7s} absorbs about {s['hosts_at_100_execs_s']:,} hosts at "
                f"{EXECS_PER_HOST} execs/s with the simulated hosts on the same CPUs (its "
                f"saturated rate / {EXECS_PER_HOST} / events per exec), about "
                f"{s['hosts_at_100_execs_s_servers_only']:,} with the servers alone on "
                f"{os.cpu_count()} CPUs (CPUs / server CPU per event)")
    c, one = summary.get("cluster", {}), summary.get("single", {})
    if c.get("paced") and one.get("paced"):
        log(f"  cluster R3 / single node: server CPU per event "
            f"{c['paced']['server_cpu_us_per_event'] / max(1e-9, one['paced']['server_cpu_us_per_event']):.2f}"
            + (f", capacity {c['saturated']['events_per_s_acked'] / max(1, one['saturated']['events_per_s_acked']):.2f}"
               if c.get("saturated") and one.get("saturated") else ""))
    if c.get("paced"):
        p = c["paced"]
        ok = (p["events_per_s_acked"] >= TARGET_EPS and p["hosts"] >= TARGET_HOSTS
              and p["lag_ms_p99"] <= TARGET_P99_MS)
        log(f"  target (3-node R3, >= {TARGET_EPS:,} events/s acked, >= {TARGET_HOSTS} hosts, "
            f"lag p99 <= {TARGET_P99_MS} ms): {'met' if ok else 'NOT met'}")


def main():
    if os.environ.get("FLEET_SIM", "1") == "0":
        log("== simulated fleet: skipped (FLEET_SIM=0)")
        return 0
    if os.geteuid() != 0:
        log("fleet_sim: needs root (procmon records the sample)")
        return 1
    if not SIM.exists():
        log(f"fleet_sim: {SIM} is missing: make {SIM.relative_to(ROOT)}")
        return 1
    log(f"== simulated fleet: {HOSTS} hosts through procmon's fleet output, "
        f"{RATE:g} events/s each for {SECONDS:g} s, then as fast as acked for {SAT_S:g} s; "
        f"3-node R3 cluster and single node, nats.partitions {PARTS}, {ROUNDS} round(s)")
    base = Path(tempfile.mkdtemp(prefix=TAG))
    os.chmod(base, 0o700)
    try:
        if SAMPLE:
            sample, parts = Path(SAMPLE), sample_stats(SAMPLE)
        else:
            sample, parts = record_sample(base)
        results = []
        for rnd in range(ROUNDS):
            order = ("cluster", "single") if rnd % 2 == 0 else ("single", "cluster")
            for target in order:
                t = time.monotonic()
                r = measure(target, base, sample, rnd)
                results.append(r)
                log(f"  round {rnd + 1} {target}: {json.dumps({k: v for k, v in r.items()})} "
                    f"({time.monotonic() - t:.0f} s)")
        summary = summarize(results, parts)
        report(summary, parts)
        OUT.write_text(json.dumps({"knobs": {"hosts": HOSTS, "rate": RATE, "seconds": SECONDS,
                                             "sat_seconds": SAT_S, "partitions": PARTS,
                                             "rounds": ROUNDS},
                                   "sample": parts, "rounds": results, "summary": summary},
                                  indent=1) + "\n")
        log(f"  details: {OUT}")
        return 0
    except (Failed, AssertionError, OSError, subprocess.SubprocessError) as e:
        log(f"fleet_sim: could not measure: {type(e).__name__}: {e}")
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)
        left = subprocess.run(["pgrep", "-a", "-x", "nats-server"], capture_output=True,
                              text=True).stdout
        if TAG in left:
            log(f"fleet_sim: nats-server left running: {left}")


if __name__ == "__main__":
    sys.exit(main())

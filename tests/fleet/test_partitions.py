"""Partitioned streams (nats.partitions, docs/fleet.md "Partitioned
streams") on a real 3-node cluster: each host's events land in the stream
of its partition only, the partitions' leaders are on different nodes, and
procmon-tail --partitions reads across all of them.

Each procmon runs in a UTS namespace of its own with its own host name
(procmon takes the host name from gethostname()).
"""

import json
import subprocess

import pytest

from conftest import (DELIVERY_TIMEOUT, Run, cluster, file_events, run_tail, spread_leaders,
                      storm, wait_until, write_config)
import natsproto

N = 3


def fnv1a32(s):
    """The partition hash, written down independently of procmon's."""
    h = 0x811C9DC5
    for b in s.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def hosts_one_per_partition():
    """Host names that fall in partitions 0, 1, 2 (one each)."""
    by_part = {}
    i = 0
    while len(by_part) < N:
        name = f"pm-part-{i}"
        by_part.setdefault(fnv1a32(name) % N, name)
        i += 1
    return [by_part[p] for p in range(N)]


def tail_lines(nodes, *args):
    urls = [a for n in nodes for a in ("--server", n.url)]
    r = run_tail(*urls, "--partitions", N, *args)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.split(b"\n") if l]


def written(path):
    """The lines written so far, whole ones only (procmon may be mid-line)."""
    data = path.read_bytes() if path.exists() else b""
    return [l for l in data[:data.rfind(b"\n") + 1].split(b"\n") if l]


def marked_execs(lines, marker):
    return [l for l in lines if json.loads(l)["type"] == "ProcessExec"
            and json.loads(l)["process"]["args"].startswith(marker + " ")]


def in_stream(node, stream, subject, line):
    """The event line is in the stream: the last message of its subject
    holds it or a later one (a subject's messages are stored in order)."""
    try:
        with node.client() as c:
            last = natsproto.message_lines(c.msg(stream, last_by_subj=subject))
    except (OSError, natsproto.NatsError):
        return False
    return max(json.loads(l)["seq"] for l in last) >= json.loads(line)["seq"]


def run_hosts(nodes, workdir, hosts, n_execs=20):
    """Each host in turn: procmon under its own host name with
    nats.partitions N runs a storm; stopped once the storm's last exec is
    in its partition's stream. Returns {host: the exit report's spooled}."""
    spooled = {}
    for host in hosts:
        p = fnv1a32(host) % N
        cfg = write_config(workdir, {"servers": [n.url for n in nodes], "partitions": N,
                                     "spool_dir": str(workdir / f"spool-{host}")},
                           output=workdir / f"{host}.jsonl", name=f"{host}.yaml")
        run = Run(workdir, cfg, hostname=host)
        try:
            run.pm.wait_stderr(lambda l: f"created stream PROCMON_{p} (subjects procmon.{p}.>"
                               in l and f"{len(nodes)} replica" in l, timeout=DELIVERY_TIMEOUT)
            storm(n_execs, f"part-{host}")
            mine = wait_until(lambda: (lambda m: len(m) == n_execs and m)(
                marked_execs(written(workdir / f"{host}.jsonl"), f"part-{host}")),
                DELIVERY_TIMEOUT, f"{host}'s storm in its file")
            wait_until(lambda: in_stream(nodes[-1], f"PROCMON_{p}",
                                         f"procmon.{p}.{host}.ProcessExec", mine[-1]),
                       DELIVERY_TIMEOUT, f"{host}'s storm in PROCMON_{p}")
        except BaseException:
            run.pm.kill()  # a failed wait leaves no procmon behind
            raise
        run.stop()
        spooled[host] = run.report()["spooled"]
    return spooled


def check_partitions(node, workdir, hosts, spooled):
    """Each partition's stream holds its host's events and nothing else,
    each once; what is not there is still spooled, and said so."""
    out = {}
    with node.client() as c:
        for host in hosts:
            p = fnv1a32(host) % N
            lines = file_events(workdir, f"{host}.jsonl")
            assert lines and all(json.loads(l)["host"] == host for l in lines)
            got = []
            for m in c.messages(f"PROCMON_{p}"):
                ev_lines = natsproto.message_lines(m)
                hosts_in = {json.loads(l)["host"] for l in ev_lines}
                assert hosts_in == {host}, f"PROCMON_{p} holds {hosts_in}"
                assert m["subject"] == f"procmon.{p}.{host}.{json.loads(ev_lines[0])['type']}"
                got += ev_lines
            assert len(set(got)) == len(got)
            assert set(got) <= set(lines)
            assert len(got) + spooled[host] == len(lines)
            out[host] = got
    return out


def test_hosts_spread_over_partition_streams(servers, workdir):
    """A 3-node cluster, 3 hosts, nats.partitions 3: each host's events in
    the R3 stream of its partition only, the leaders spread over the nodes."""
    nodes = cluster(servers)
    hosts = hosts_one_per_partition()
    spooled = run_hosts(nodes, workdir, hosts)
    streams = [f"PROCMON_{p}" for p in range(N)]
    placed = spread_leaders(nodes[0], streams)
    assert sorted(placed.values()) == sorted(n.name for n in nodes)
    check_partitions(nodes[1], workdir, hosts, spooled)


def test_procmon_tail_reads_across_partitions(servers, workdir):
    """procmon-tail --partitions reads every partition's stream: each
    host's events, in order, with the filters and the gap check."""
    node = servers("single").start()
    hosts = hosts_one_per_partition()
    spooled = run_hosts([node], workdir, hosts, n_execs=10)
    want = check_partitions(node, workdir, hosts, spooled)
    out = tail_lines([node], "--all", "--catch-up")
    for host in hosts:
        assert [l for l in out if json.loads(l)["host"] == host] == want[host]
    assert len(out) == sum(len(v) for v in want.values())
    # one host, one type: the filter goes to every partition
    got = [json.loads(l) for l in tail_lines([node], "--all", "--catch-up", "--host", hosts[1],
                                             "--type", "ProcessExec")]
    assert got and all(e["host"] == hosts[1] and e["type"] == "ProcessExec" for e in got)
    assert len(got) == sum(json.loads(l)["type"] == "ProcessExec" for l in want[hosts[1]])
    r = run_tail("--server", node.url, "--partitions", N, "--check-gaps")
    assert r.returncode == 0, r.stdout
    for host in hosts:
        assert f"host {host} run ".encode() in r.stdout, r.stdout


@pytest.mark.parametrize("value,expect", [(0, "must be from 1 to 1024, got 0"),
                                          (-1, "must not be negative"),
                                          ("two", "")])
def test_partitions_below_one_is_a_config_error(workdir, value, expect):
    cfg = workdir / "bad.yaml"
    cfg.write_text(f"nats:\n  enabled: true\n  partitions: {value}\n")
    cfg.chmod(0o600)
    import helpers
    r = subprocess.run([str(helpers.PROCMON), "--config", str(cfg)], capture_output=True,
                       timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert f"{cfg}:3: key 'nats.partitions'" in err and expect in err, err


def test_partition_is_nats_servers_partition_mapping(servers, workdir):
    """The hash written down here (and so procmon's, checked above) is the
    one nats-server's partition() subject mapping uses: a fleet can move
    between the two without moving hosts."""
    conf = workdir / "map.conf"
    conf.write_text('mappings = { "procmon.*.*": '
                    '"procmon.{{partition(3,1)}}.{{wildcard(1)}}.{{wildcard(2)}}" }\n')
    srv = servers(conf=conf).start()
    with srv.client() as c:
        c.subscribe("procmon.*.*.*")
        for i in range(40):
            host = f"web-{i:02d}"
            c.publish(f"procmon.{host}.ProcessExec", b"x")
            subject, _, _ = c.next_msg(5)
            assert subject == f"procmon.{fnv1a32(host) % 3}.{host}.ProcessExec"

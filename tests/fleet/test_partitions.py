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

from conftest import (DELIVERY_TIMEOUT, TAIL, Run, cluster, file_events, run_tail,
                      spread_leaders, storm, wait_until, write_config)

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


def body_lines(msg):
    """A message's event lines: one event, or a batch (zstd or plain)."""
    data = msg["data"]
    if msg["headers"].get("Content-Encoding") == "zstd":
        data = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True,
                              check=True).stdout
    return [l for l in data.split(b"\n") if l]


def tail_lines(nodes, *args):
    urls = [a for n in nodes for a in ("--server", n.url)]
    r = run_tail(*urls, "--partitions", N, *args)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.split(b"\n") if l]


def marked_execs(lines, marker):
    return {l for l in lines if json.loads(l)["type"] == "ProcessExec"
            and json.loads(l)["process"]["args"].startswith(marker + " ")}


def test_hosts_spread_over_partition_streams(servers, workdir):
    nodes = cluster(servers)
    hosts = hosts_one_per_partition()
    streams = [f"PROCMON_{p}" for p in range(N)]
    spooled = {}
    # one host after the other (each procmon sees the whole machine's execs)
    for p, host in enumerate(hosts):
        cfg = write_config(workdir, {"servers": [n.url for n in nodes], "partitions": N,
                                     "spool_dir": str(workdir / f"spool-{host}")},
                           output=workdir / f"{host}.jsonl", name=f"{host}.yaml")
        run = Run(workdir, cfg, hostname=host)
        run.pm.wait_stderr(lambda l, p=p: f"created stream PROCMON_{p}" in l
                           and f"procmon.{p}.>" in l and "3 replicas" in l,
                           timeout=DELIVERY_TIMEOUT)
        storm(20, f"part-{host}")
        want = wait_until(lambda: (lambda m: len(m) == 20 and m)(
            marked_execs(file_events(workdir, f"{host}.jsonl"), f"part-{host}")),
            DELIVERY_TIMEOUT, f"{host}'s storm in its file")
        # the storm's execs reach the stream, read through procmon-tail
        wait_until(lambda: want <= set(tail_lines(nodes, "--all", "--catch-up", "--host", host,
                                                  "--type", "ProcessExec")),
                   DELIVERY_TIMEOUT, f"{host}'s storm in {streams[p]}")
        run.stop()
        spooled[host] = run.report()["spooled"]
    placed = spread_leaders(nodes[0], streams)
    assert sorted(placed.values()) == sorted(n.name for n in nodes)

    in_stream = {}
    with nodes[1].client() as c:
        for p, host in enumerate(hosts):
            lines = file_events(workdir, f"{host}.jsonl")
            assert lines and all(json.loads(l)["host"] == host for l in lines)
            got = []
            for m in c.messages(streams[p]):
                ev_lines = body_lines(m)
                hosts_in = {json.loads(l)["host"] for l in ev_lines}
                assert hosts_in == {host}, f"{streams[p]} holds {hosts_in}"
                assert m["subject"] == f"procmon.{p}.{host}.{json.loads(ev_lines[0])['type']}"
                got += ev_lines
            # each event once; what is not there is still spooled, and said so
            assert len(set(got)) == len(got)
            assert set(got) <= set(lines)
            assert len(got) + spooled[host] == len(lines)
            in_stream[host] = got

    # procmon-tail reads all partitions: every host's events, each host's in order
    out = tail_lines(nodes, "--all", "--catch-up")
    for host in hosts:
        assert [l for l in out if json.loads(l)["host"] == host] == in_stream[host]
    assert len(out) == sum(len(v) for v in in_stream.values())
    report = subprocess.run([str(TAIL), *[a for n in nodes for a in ("--server", n.url)],
                             "--partitions", str(N), "--check-gaps"],
                            capture_output=True, timeout=30).stdout.decode()
    for host in hosts:
        assert f"host {host} run " in report, report


@pytest.mark.parametrize("value,expect", [(0, "must be at least 1"),
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

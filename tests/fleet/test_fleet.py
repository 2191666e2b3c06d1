"""Fleet output (contract section 8) against real nats-server processes.

Each test starts its own servers on free loopback ports with their own
store directories; a finalizer stops them. procmon runs with only the
always-on hooks (exec, clone, exit), writes its local file and publishes;
the tests compare the stream with the file, message by message, through
an independent client (natsproto.py).
"""

import collections
import hashlib
import json
import os
import re
import subprocess
import threading

import pytest

from conftest import (DELIVERY_TIMEOUT, MESSAGE, Run, cluster, file_events, in_stream_order,
                      iter_file_events, run_tail, storm, wait_stream_has, wait_until,
                      write_config, write_old_spool, write_spool_record)
import helpers
import natsproto
import nkeys_jwt


def host_token():
    return re.sub(r"[.*>\s]", "_", os.uname().nodename)


def event_type(ev):
    return ev["routing"]["event_type"] if "routing" in ev else ev["type"]


def event_id(ev):
    return ev["routing"]["event_id"] if "routing" in ev else ev["event_id"]


def check_message(m, compression="zstd", kind=None):
    """A message is of its kind (contract section 8): a batch holds events
    of one host and one type in seq order, its id is its first event's, its
    headers say how many and how it is compressed; an event message is one
    plain event under its own id. Its lines."""
    kind = kind or MESSAGE["kind"]
    h = m["headers"]
    lines = natsproto.message_lines(m)
    evs = [json.loads(l) for l in lines]
    assert h["Nats-Msg-Id"] == event_id(evs[0])
    assert {m["subject"].rsplit(".", 1)[1]} == {event_type(e) for e in evs}
    if kind == "event":
        assert "Procmon-Events" not in h and "Content-Encoding" not in h, h
        assert not m["data"].endswith(b"\n")
    else:
        assert h["Procmon-Events"] == str(len(lines))
        assert h.get("Content-Encoding") == ("zstd" if compression == "zstd" else None), h
        seqs = [e["routing"]["seq"] if "routing" in e else e["seq"] for e in evs]
        assert seqs == sorted(seqs), "a batch's events out of order"
    return lines


def check_delivered(server, workdir, lines=None, exactly_once=True, prefix="procmon",
                    compression="zstd", **kw):
    """Every line of the local file is in the stream, byte for byte, under
    its subject; with exactly_once, once and nothing else; every message of
    its kind (check_message). Streams both sides: the stream is kept as
    (subject, digest) per event id."""
    by_id = collections.defaultdict(list)
    n_events = 0
    with server.client(**kw) as c:
        for m in c.iter_messages("PROCMON"):
            for line in check_message(m, compression):
                by_id[event_id(json.loads(line))].append(
                    (m["subject"], hashlib.sha256(line).digest()))
                n_events += 1
    n_lines = 0
    for raw in iter_file_events(workdir) if lines is None else lines:
        n_lines += 1
        ev = json.loads(raw)
        got = by_id.get(event_id(ev))
        assert got, f"event {event_id(ev)} not in the stream: {raw[:200]!r}"
        subject, digest = got[0]
        assert digest == hashlib.sha256(raw).digest(), "stream line differs from the local line"
        assert subject == f"{prefix}.{host_token()}.{event_type(ev)}"
        if exactly_once:
            assert len(got) == 1, f"event {event_id(ev)} stored {len(got)} times"
    assert n_lines, "procmon wrote no events"
    if exactly_once:
        assert n_events == n_lines, f"{n_events} events for {n_lines} lines"


# --------------------------------------------------------------------------
# Delivery and identity


# batch_ms: the default batches a storm's events (50 ms); 0 sends each at once
@pytest.mark.parametrize("fmt,batch_ms", [("bombini", None), ("limacharlie", None),
                                          ("bombini", 0)])
def test_storm_delivered_with_subjects_ids_and_seq(servers, workdir, fmt, batch_ms,
                                                   fleet_message):
    check_storm_delivered(servers, workdir, fmt, batch_ms, "zstd", fleet_message)


@pytest.mark.batch_only  # compression applies to batches only
def test_storm_delivered_in_plain_batches(servers, workdir, fleet_message):
    check_storm_delivered(servers, workdir, "bombini", None, "none", fleet_message)


def check_storm_delivered(servers, workdir, fmt, batch_ms, compression, fleet_message):
    srv = servers().start()
    block = {"servers": [srv.url], "compression": compression}
    if batch_ms is not None:
        block["batch_ms"] = batch_ms
    run = Run(workdir, write_config(workdir, block, fmt=fmt))
    storm(300 if fmt == "bombini" else 60, "fleet-storm")
    run.stop()
    rep = run.report()
    assert rep["pending"] == 0 and rep["spooled"] == 0 and rep["dropped"] == 0, rep
    check_delivered(srv, workdir, compression=compression)
    if fleet_message == "event":
        assert rep["messages"] == rep["published"], rep
    elif batch_ms is None:  # a storm goes in batches of several events
        assert rep["messages"] * 3 <= rep["published"], rep
    # one event at a time: on a busy host the file holds thousands
    ids, seqs, marked = set(), [], 0
    for line in iter_file_events(workdir):
        e = json.loads(line)
        assert event_id(e) not in ids, "event ids repeat"
        ids.add(event_id(e))
        seqs.append(e["routing"]["seq"] if fmt == "limacharlie" else e["seq"])
        if fmt == "bombini":
            assert e["host"] == os.uname().nodename
            marked += (e["type"] == "ProcessExec"
                       and e["process"]["args"].startswith("fleet-storm "))
        else:
            assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                            e["routing"]["event_id"])
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq is not +1 per event"
    if fmt == "bombini":
        assert marked == 300
    # the consumer sees no gap either
    r = run_tail("--server", srv.url, "--check-gaps")
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert b" 0 missing" in r.stdout


def test_seq_goes_on_across_a_clean_restart(servers, workdir):
    srv = servers().start()
    cfg = write_config(workdir, {"servers": [srv.url]})
    for _ in range(2):
        run = Run(workdir, cfg)
        storm(20, "restart")
        run.stop()
    seqs, boots = [], set()
    for line in iter_file_events(workdir):
        e = json.loads(line)
        seqs.append(e["seq"])
        boots.add(e["event_id"][:18])
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len(boots) == 1, "one boot, one id prefix"
    check_delivered(srv, workdir)


# --------------------------------------------------------------------------
# Failures


def test_server_down_at_start_then_up(servers, workdir):
    srv = servers()  # not started: its port is free
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    run.pm.wait_stderr(lambda l: "cannot connect to " + srv.url in l)
    storm(100, "down-at-start")
    srv.start()
    n = sum(1 for _ in iter_file_events(workdir))
    wait_stream_has(srv, n)
    run.stop()
    check_delivered(srv, workdir)


def test_server_killed_mid_storm_exactly_once(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    t = threading.Thread(target=storm, args=(1500, "kill9"))
    t.start()
    wait_stream_has(srv, 300)
    srv.kill9()
    srv.start()  # same port, same store
    t.join()
    n = sum(1 for _ in iter_file_events(workdir))
    wait_stream_has(srv, n)
    run.stop()
    rep = run.report()
    assert rep["reconnects"] >= 1, rep
    check_delivered(srv, workdir)


def test_stopped_while_down_delivered_by_next_run(servers, workdir):
    srv = servers()
    cfg = write_config(workdir, {"servers": [srv.url]})
    run = Run(workdir, cfg)
    storm(100, "first-run")
    run.stop()
    first = file_events(workdir)
    assert run.report()["spooled"] > 0
    srv.start()
    run = Run(workdir, cfg)
    run.pm.wait_stderr(lambda l: "from an earlier run are spooled" in l)
    wait_stream_has(srv, len(first))
    run.stop()
    check_delivered(srv, workdir)  # first run's events and the second's


def test_spool_bound_drops_oldest_and_reports(servers, workdir):
    # plain batches: compressed, 700 execs would not fill a megabyte
    srv = servers()
    cfg = write_config(workdir, {"servers": [srv.url], "spool_max_mb": 1, "compression": "none"})
    run = Run(workdir, cfg)
    storm(700, "bound")
    run.stop()
    rep = run.report()
    assert rep["dropped"] > 0, rep
    assert any("dropped the oldest" in l for l in run.pm.stderr_lines)
    size = sum(f.stat().st_size for f in (workdir / "spool").glob("*.seg"))
    assert size <= 1 << 20, size
    lines = file_events(workdir)
    assert rep["spooled"] + rep["dropped"] == len(lines), (rep, len(lines))
    # what is left is the newest events, and it is delivered
    srv.start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "spool_max_mb": 1,
                                              "compression": "none"},
                                    output=workdir / "second.jsonl", name="second.yaml"))
    wait_stream_has(srv, rep["spooled"])
    run.stop()
    with srv.client() as c:
        ids = {json.loads(e["data"])["event_id"] for e in c.events("PROCMON")}
    kept = [json.loads(l)["event_id"] for l in lines[-rep["spooled"]:]]
    assert set(kept) <= ids


def test_corrupt_spool_good_part_replayed(servers, workdir):
    srv = servers()
    cfg = write_config(workdir, {"servers": [srv.url]})
    run = Run(workdir, cfg)
    storm(100, "corrupt")
    run.stop()
    lines = file_events(workdir)
    seg = sorted((workdir / "spool").glob("*.seg"))[-1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0xFF       # a damaged record in the middle
    del data[-50:]                    # and a torn tail
    seg.write_bytes(bytes(data))
    srv.start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]},
                                    output=workdir / "second.jsonl", name="second.yaml"))
    run.pm.wait_stderr(lambda l: "damaged" in l)
    run.stop()
    damaged = run.report()["dropped"]
    assert damaged >= 2 if MESSAGE["kind"] == "event" else damaged >= 1, run.report()
    second = {json.loads(l)["event_id"]: l for l in file_events(workdir, "second.jsonl")}
    wait_stream_has(srv, len(lines) - damaged + len(second))
    with srv.client() as c:
        evs = c.events("PROCMON")
    first = {json.loads(l)["event_id"]: l for l in lines}
    replayed = 0
    for e in evs:  # nothing but intact events: each one a line of a file
        eid = json.loads(e["data"])["event_id"]
        assert e["data"] == first.get(eid, second.get(eid)), "garbage published"
        replayed += eid in first
    # every event of the first run is either delivered or counted as lost
    assert replayed + damaged == len(lines), (replayed, damaged, len(lines))


@pytest.mark.batch_only
def test_batches_stay_within_the_servers_max_payload(servers, workdir, fleet_message):
    """A server that takes at most 16 KiB a message: plain batches are cut
    to fit it (learnt at connect), nothing is refused."""
    conf = workdir / "small.conf"
    conf.write_text("max_payload: 16384\n")
    srv = servers(conf=conf).start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "compression": "none"}))
    run.pm.wait_stderr(lambda l: "connected to" in l)
    storm(200, "small")
    run.stop()
    rep = run.report()
    assert rep["dropped"] == 0 and rep["spooled"] == 0, rep
    check_delivered(srv, workdir, compression="none")
    with srv.client() as c:
        msgs = c.messages("PROCMON")
    assert max(len(m["data"]) for m in msgs) <= 16384
    assert max(int(m["headers"]["Procmon-Events"]) for m in msgs) > 1


def fake_event(host, typ, n):
    eid = f"0badc0de-0000-4000-8000-{n:012x}"
    line = json.dumps({"type": typ, "host": host, "event_id": eid, "seq": n,
                       "process": {"args": f"spooled {n}"}}, separators=(",", ":"))
    return eid, line.encode()


def test_spool_of_the_previous_version_delivered_after_upgrade(servers, workdir):
    """A spool the previous version left (one event a record, "PSR1") is
    delivered by this one, each event as it would have been: plain, under
    its own id."""
    srv = servers().start()
    host = os.uname().nodename
    old = []
    for n in range(1, 6):
        typ = "ProcessExec" if n % 2 else "ProcessExit"
        eid, line = fake_event(host, typ, n)
        old.append((f"{host_token()}.{typ}".encode(), eid.encode(), line))
    write_old_spool(workdir / "spool", old)
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    run.pm.wait_stderr(lambda l: "5 events from an earlier run are spooled" in l)
    wait_stream_has(srv, 5)
    run.stop()
    with srv.client() as c:
        msgs = c.messages("PROCMON")
    got = {m["headers"]["Nats-Msg-Id"]: m for m in msgs}
    for suffix, eid, line in old:
        m = got[eid.decode()]
        assert m["data"] == line and m["subject"] == "procmon." + suffix.decode()
        assert "Procmon-Events" not in m["headers"]
    assert run.report()["dropped"] == 0


def test_damaged_compressed_record_counted_not_published(servers, workdir):
    """A batch whose zstd body is cut short (its CRC made to agree, as a
    bug or a hand would) is counted as damaged and never published; the
    records around it are."""
    import zstandard
    srv = servers().start()
    host, spool = os.uname().nodename, workdir / "spool"
    spool.mkdir(mode=0o700)
    seg = spool / f"{1:016x}.seg"
    want = []
    number = 1
    for i, cut in enumerate((False, True, False)):
        evs = [fake_event(host, "ProcessExec", 10 * i + k) for k in range(4)]
        body = zstandard.ZstdCompressor().compress(b"".join(l + b"\n" for _, l in evs))
        if cut:
            body = body[:-7]
        else:
            want += [l for _, l in evs]
        suffix, eid = f"{host_token()}.ProcessExec".encode(), evs[0][0].encode()
        payload = bytes([0, 3, len(suffix)]) + suffix + bytes([len(eid)]) + eid + body
        write_spool_record(seg, number, len(evs), payload)
        number += len(evs)
    os.chmod(seg, 0o600)
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}, output="none"))
    run.pm.wait_stderr(lambda l: "damaged record of 4 events" in l)
    wait_stream_has(srv, 8)
    run.stop()
    rep = run.report()
    assert rep["dropped"] == 4, rep
    with srv.client() as c:
        got = [e["data"] for e in c.events("PROCMON") if b'"event_id":"0badc0de-' in e["data"]]
    assert sorted(got) == sorted(want)


# --------------------------------------------------------------------------
# Stream management


def test_missing_stream_without_create_is_named(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "create_stream": False,
                                              "stream": "FLEETX"}))
    run.pm.wait_stderr(lambda l: "stream FLEETX does not exist" in l and srv.url in l)
    run.stop()
    assert run.report()["spooled"] > 0 or run.report()["published"] == 0


# --------------------------------------------------------------------------
# Authentication and TLS


@pytest.mark.parametrize("mode", ["token", "user"])
def test_auth(servers, workdir, mode):
    if mode == "token":
        srv = servers(args=["--auth", "s3cret-token"]).start()
        auth, client = {"token": "s3cret-token"}, {"token": "s3cret-token"}
    else:
        srv = servers(args=["--user", "sensor", "--pass", "pw-1"]).start()
        auth, client = {"user": "sensor", "password": "pw-1"}, {"user": "sensor", "password": "pw-1"}
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], **auth}))
    storm(30, "auth")
    run.stop()
    check_delivered(srv, workdir, **client)


def test_wrong_password_is_said_and_spooled(servers, workdir):
    srv = servers(args=["--user", "sensor", "--pass", "right"]).start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "user": "sensor",
                                              "password": "wrong"}))
    line = run.pm.wait_stderr(lambda l: "cannot connect to " + srv.url in l)
    assert "uthorization" in line, line
    storm(10, "wrongpw")
    run.stop()
    assert run.report()["spooled"] > 0


def operator_mode_server(servers, workdir):
    """A server trusting a fresh operator, account and JetStream (JWTs)."""
    chain = nkeys_jwt.Chain()
    conf = workdir / "operator.conf"
    conf.write_text(chain.server_conf(workdir))
    return chain, servers(conf=conf).start()


def write_creds(workdir, name, text):
    path = workdir / f"{name}.creds"
    path.write_text(text)
    os.chmod(path, 0o600)
    return str(path)


def test_creds_file_jwt_and_nkey(servers, workdir):
    chain, srv = operator_mode_server(servers, workdir)
    creds = write_creds(workdir, "sensor", chain.user_creds("sensor"))
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "creds": creds}))
    storm(30, "creds")
    run.stop()
    assert run.report()["spooled"] == 0
    # read back as another user of the same account, by both clients
    reader = chain.user_creds("reader")
    check_delivered(srv, workdir, creds=reader)
    r = run_tail("--server", srv.url, "--creds", write_creds(workdir, "reader", reader),
                 "--all", "--catch-up")
    assert r.returncode == 0, r.stderr.decode()
    assert sorted(r.stdout.splitlines()) == sorted(file_events(workdir))


def test_creds_of_an_unknown_account_is_said_and_spooled(servers, workdir):
    chain, srv = operator_mode_server(servers, workdir)
    stranger = nkeys_jwt.NKey("account")  # never preloaded on the server
    creds = write_creds(workdir, "stray", chain.user_creds("stray", signer=stranger))
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "creds": creds}))
    line = run.pm.wait_stderr(lambda l: "cannot connect to " + srv.url in l)
    assert "uthorization" in line, line
    storm(10, "stray")
    run.stop()
    assert run.report()["spooled"] > 0


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def ssl_(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    ssl_("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
         "-keyout", "ca.key", "-out", "ca.pem")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        ssl_("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr")
        ssl_("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    for f in d.iterdir():
        os.chmod(f, 0o600)


def test_tls_with_ca_and_client_certificate(servers, workdir):
    import ssl
    certs = workdir / "certs"
    certs.mkdir()
    make_certs(certs)
    conf = workdir / "tls.conf"
    conf.write_text(f'tls {{\n  cert_file: "{certs}/server.pem"\n  key_file: "{certs}/server.key"\n'
                    f'  ca_file: "{certs}/ca.pem"\n  verify: true\n}}\n')
    srv = servers(conf=conf).start()
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    tls = {"ca": str(certs / "ca.pem"), "cert": str(certs / "client.pem"),
           "key": str(certs / "client.key")}
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]},
                                    extra="  tls: " + json.dumps(tls) + "\n"))
    storm(30, "tls")
    run.stop()
    check_delivered(srv, workdir, tls_ctx=ctx)
    # a CA that did not sign the server's certificate: refused, said, spooled
    other = workdir / "other"
    other.mkdir()
    make_certs(other)
    tls["ca"] = str(other / "ca.pem")
    run = Run(workdir, write_config(workdir, {"servers": [srv.url], "spool_dir": str(workdir / "spool2")},
                                    output=workdir / "second.jsonl", name="second.yaml",
                                    extra="  tls: " + json.dumps(tls) + "\n"))
    line = run.pm.wait_stderr(lambda l: "cannot connect to " + srv.url in l)
    assert re.search(r"(?i)ssl|tls|certif|handshake", line), line
    run.stop()


# --------------------------------------------------------------------------
# A 3-node cluster losing a node


def test_cluster_of_three_loses_a_node_mid_storm(servers, workdir):
    nodes = cluster(servers)
    run = Run(workdir, write_config(workdir, {"servers": [n.url for n in nodes]}))
    run.pm.wait_stderr(lambda l: "created stream PROCMON" in l and "3 replicas" in l,
                       timeout=DELIVERY_TIMEOUT)
    t = threading.Thread(target=storm, args=(800, "cluster"))
    t.start()
    wait_stream_has(nodes[1], 200)
    nodes[0].kill9()
    t.join()
    n = sum(1 for _ in iter_file_events(workdir))
    wait_stream_has(nodes[1], n, timeout=60)
    run.stop()
    check_delivered(nodes[1], workdir)


# --------------------------------------------------------------------------
# procmon-tail


def test_procmon_tail_filters_and_gaps(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    storm(40, "tail")
    run.stop()
    lines = file_events(workdir)
    evs = [json.loads(l) for l in lines]
    # everything, each type in order
    r = run_tail("--server", srv.url, "--all", "--catch-up")
    assert r.returncode == 0, r.stderr
    assert in_stream_order(r.stdout.split(b"\n")[:-1], lines, lambda l: json.loads(l)["type"])
    # one type of one host: the server filters
    r = run_tail("--server", srv.url, "--all", "--catch-up", "--host", os.uname().nodename,
                 "--type", "ProcessExec")
    got = [json.loads(l) for l in r.stdout.split(b"\n") if l]
    assert got and all(e["type"] == "ProcessExec" for e in got)
    assert len(got) == sum(e["type"] == "ProcessExec" for e in evs)
    r = run_tail("--server", srv.url, "--all", "--catch-up", "--host", "no-such-host")
    assert r.returncode == 1 and r.stdout == b""
    assert b"no events from host 'no-such-host'" in r.stderr
    # --since: from a time after the last event, nothing
    r = run_tail("--server", srv.url, "--since", "2099-01-01T00:00:00Z", "--catch-up")
    assert r.stdout == b""
    # --new waits for new events: one from a second run arrives
    tail = subprocess.Popen([str(helpers.REPO / "build" / "procmon-tail"), "--server", srv.url,
                             "--new", "--count", "1", "--type", "ProcessExec"],
                            stdout=subprocess.PIPE)
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}))
    storm(5, "tail-new")
    out, _ = tail.communicate(timeout=DELIVERY_TIMEOUT)
    run.stop()
    assert json.loads(out)["type"] == "ProcessExec"
    # a gap: one message deleted from the stream (a batch: its events)
    with srv.client() as c:
        gone = len(natsproto.message_lines(c.msg("PROCMON", 10)))
        c.delete_msg("PROCMON", 10)
    r = run_tail("--server", srv.url, "--check-gaps")
    assert r.returncode == 1, r.stdout
    assert f" {gone} missing".encode() in r.stdout, r.stdout


# --------------------------------------------------------------------------
# Configuration errors (no server needed)


def run_to_exit(workdir, *args):
    r = subprocess.run([str(helpers.PROCMON), *map(str, args)], capture_output=True, timeout=30)
    return r.returncode, r.stderr.decode()


@pytest.mark.parametrize("block,expect", [
    ({"servers": ["http://127.0.0.1:4222"]}, "key 'nats.servers[0]'"),
    ({"tls": {"ca": "/nonexistent/ca.pem"}}, "key 'nats.tls.ca'"),
    ({"token": "a", "user": "b", "password": "c"}, "at most one of"),
    ({"unknown_key": 1}, "key 'nats.unknown_key'"),
    ({"message": "bulk"}, "key 'nats.message'"),
    ({"compression": "lz4"}, "key 'nats.compression'"),
    ({"batch_events": 0}, "key 'nats.batch_events'"),
    ({"batch_events": 70000}, "key 'nats.batch_events'"),
    ({"batch_bytes": 100}, "key 'nats.batch_bytes'"),
])
def test_bad_nats_block_is_a_config_error(workdir, block, expect):
    """(and the batch keys: nats.message, compression, batch limits)"""
    cfg = workdir / "bad.yaml"
    cfg.write_text("nats:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in block.items()))
    os.chmod(cfg, 0o600)
    rc, err = run_to_exit(workdir, "--config", cfg)
    assert rc == 2, err
    assert str(cfg) + ":" in err and expect in err, err


def test_unsafe_spool_dir_refused(workdir):
    spool = workdir / "spool"
    spool.mkdir()
    os.chmod(spool, 0o777)
    cfg = write_config(workdir, {"servers": ["nats://127.0.0.1:1"]})
    rc, err = run_to_exit(workdir, "--config", cfg)
    assert rc == 2, err
    assert "nats.spool_dir" in err and "writable" in err, err


def test_output_none_needs_nats_and_bad_url(workdir):
    cfg = workdir / "none.yaml"
    cfg.write_text("output: none\n")
    os.chmod(cfg, 0o600)
    rc, err = run_to_exit(workdir, "--config", cfg)
    assert rc == 2 and "output: none" in err, err
    rc, err = run_to_exit(workdir, "--nats", "localhost:4222")
    assert rc == 2 and "--nats" in err, err


def test_output_none_publishes_only(servers, workdir):
    srv = servers().start()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]}, output="none"))
    storm(20, "none")
    run.stop()
    assert not (workdir / "events.jsonl").exists()
    assert run.pm.events == []  # nothing on stdout either
    with srv.client() as c:
        evs = c.events("PROCMON")
    assert any(json.loads(e["data"])["process"]["args"] == "none 3" for e in evs)
    assert run.report()["acknowledged"] == len(evs)


def test_metrics_show_the_fleet_counters(servers, workdir, fleet_message):
    """With metrics on, /metrics carries the fleet output's counters
    (contract 8's report, issue 15's scrape) and passes promtool."""
    from test_metrics import free_port, get, parse, promtool_check, value

    srv = servers().start()
    port = free_port()
    run = Run(workdir, write_config(workdir, {"servers": [srv.url]},
                                    extra=f'metrics: {{ listen: "127.0.0.1:{port}" }}\n'))
    try:
        storm(20, "fleet-metrics")
        wait_stream_has(srv, 20)

        def acked():
            samples = parse(get(port, "/metrics")[1])
            return value(samples, "procmon_fleet_acknowledged_total") >= 20 and samples
        samples = wait_until(acked, DELIVERY_TIMEOUT, "20 acknowledged events in /metrics")
        assert value(samples, "procmon_fleet_published_total") >= 20
        for cause in ("spool_bound", "damaged_spool", "spool_write", "refused"):
            assert value(samples, "procmon_fleet_dropped_total", cause=cause) == 0
        msgs = value(samples, "procmon_fleet_messages_total")
        per = value(samples, "procmon_fleet_events_per_message")
        ratio = value(samples, "procmon_fleet_compression_ratio")
        assert msgs >= 1 and per == pytest.approx(
            value(samples, "procmon_fleet_published_total") / msgs, rel=0.01)
        assert ratio == pytest.approx(value(samples, "procmon_fleet_line_bytes_total") /
                                      value(samples, "procmon_fleet_body_bytes_total"), rel=0.01)
        if fleet_message == "batch":
            assert ratio > 2, ratio  # exec events compress
        else:
            assert ratio == 1 and per == 1
        promtool_check(get(port, "/metrics")[1])
    finally:
        run.stop()

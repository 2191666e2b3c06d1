"""A minimal NATS client (the text protocol over a socket), so the fleet
tests read the stream independently of the C code under test.

Only what the tests need: CONNECT (token, user/password, .creds, TLS), request/
reply, and the JetStream API calls for stream info, message get and
message delete.
"""

import base64
import json
import socket
import ssl
import time
import uuid

import zstandard


class NatsError(Exception):
    pass


class Client:
    def __init__(self, port, host="127.0.0.1", token=None, user=None,
                 password=None, creds=None, tls_ctx=None, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        info = self._line()
        if not info.startswith(b"INFO "):
            raise NatsError(f"no INFO: {info!r}")
        self.info = json.loads(info[5:])
        if tls_ctx is not None:
            self.sock = tls_ctx.wrap_socket(self.sock, server_hostname=host)
        opts = {"verbose": False, "pedantic": False, "headers": True,
                "no_responders": True, "protocol": 1, "name": "fleet-tests"}
        if token:
            opts["auth_token"] = token
        if user:
            opts["user"], opts["pass"] = user, password
        if creds:  # the text of a .creds file: its JWT, the nonce signed
            import nkeys_jwt
            opts.update(nkeys_jwt.connect_fields(creds, self.info["nonce"]))
        self._send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())
        self.inbox = "_INBOX." + uuid.uuid4().hex
        self._send(f"SUB {self.inbox}.* 1\r\n".encode())
        self.n = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise NatsError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _next(self, deadline):
        """The next MSG or HMSG: (subject, headers bytes, data bytes);
        socket.timeout at the deadline."""
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            line = self._line()
            if line == b"PING":
                self._send(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode())
            parts = line.split()
            if parts and parts[0] == b"MSG":
                return parts[1].decode(), b"", self._bytes(int(parts[-1]))
            if parts and parts[0] == b"HMSG":
                total, hlen = int(parts[-1]), int(parts[-2])
                raw = self._bytes(total)
                return parts[1].decode(), raw[:hlen], raw[hlen:]

    def request(self, subject, payload=b"", timeout=5.0):
        """The reply's (headers bytes, data bytes)."""
        self.n += 1
        reply = f"{self.inbox}.{self.n}"
        self._send(f"PUB {subject} {reply} {len(payload)}\r\n".encode() + payload + b"\r\n")
        deadline = time.monotonic() + timeout
        while True:
            subject_, hdr, data = self._next(deadline)
            if subject_ == reply:
                return hdr, data

    def subscribe(self, subject):
        """A core subscription (the messages as they are published), in
        place once this returns."""
        self._send(f"SUB {subject} 2\r\nPING\r\n".encode())
        while self._line() != b"PONG":
            pass

    def next_msg(self, timeout):
        """The next message of the subscription (subject, headers, data), or
        None after timeout seconds."""
        try:
            return self._next(time.monotonic() + timeout)
        except socket.timeout:
            return None

    def api(self, subject, body=None):
        hdr, data = self.request(subject, json.dumps(body or {}).encode())
        if b"503" in hdr.split(b"\r\n")[0]:
            raise NatsError(f"no responders for {subject}")
        r = json.loads(data)
        if "error" in r:
            raise NatsError(f"{subject}: {r['error']}")
        return r

    # -- JetStream

    def stream_info(self, stream):
        return self.api(f"$JS.API.STREAM.INFO.{stream}")

    def stream_count(self, stream):
        try:
            return self.stream_info(stream)["state"]["messages"]
        except NatsError:
            return 0

    def msg(self, stream, seq):
        """{'subject', 'seq', 'headers': {name: value}, 'data': bytes}"""
        m = self.api(f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq})["message"]
        headers = parse_headers(base64.b64decode(m["hdrs"])) if m.get("hdrs") else {}
        return {"subject": m["subject"], "seq": m["seq"], "headers": headers,
                "data": base64.b64decode(m.get("data", ""))}

    def iter_messages(self, stream):
        """The stream's messages one at a time, oldest first (a busy host's
        stream is too big to hold as a list)."""
        st = self.stream_info(stream)["state"]
        for seq in range(st["first_seq"], st["last_seq"] + 1):
            try:
                yield self.msg(stream, seq)
            except NatsError as e:
                if "not found" not in str(e) and "10037" not in str(e):
                    raise

    def messages(self, stream):
        return list(self.iter_messages(stream))

    def events(self, stream):
        """Every event the stream holds, in order: one dict per event with its
        message's subject, seq and headers, and its line as 'data'."""
        return [{**m, "data": line, "index": i}
                for m in self.messages(stream) for i, line in enumerate(message_lines(m))]

    def delete_msg(self, stream, seq):
        return self.api(f"$JS.API.STREAM.MSG.DELETE.{stream}", {"seq": seq, "no_erase": True})

    # -- publishing as procmon does (contract section 8), for consumer tests

    def create_stream(self, stream="PROCMON", subjects=("procmon.>",)):
        return self.api(f"$JS.API.STREAM.CREATE.{stream}",
                        {"name": stream, "subjects": list(subjects), "storage": "file",
                         "duplicate_window": 120_000_000_000})

    def js_publish(self, subject, data, headers=None, timeout=5.0):
        """Publish with headers (HPUB) and wait for JetStream's ack: the ack's
        JSON ({'stream', 'seq', 'duplicate'?})."""
        self.n += 1
        reply = f"{self.inbox}.{self.n}"
        hdr = b"NATS/1.0\r\n" + b"".join(
            f"{k}: {v}\r\n".encode() for k, v in (headers or {}).items()) + b"\r\n"
        self._send(f"HPUB {subject} {reply} {len(hdr)} {len(hdr) + len(data)}\r\n".encode()
                   + hdr + data + b"\r\n")
        deadline = time.monotonic() + timeout
        while True:
            subject_, _, body = self._next(deadline)
            if subject_ == reply:
                ack = json.loads(body)
                if "error" in ack:
                    raise NatsError(f"publish to {subject}: {ack['error']}")
                return ack

def parse_headers(raw):
    """NATS/1.0 headers (bytes) as {name: value}."""
    headers = {}
    for line in raw.split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            headers[k.decode().strip()] = v.decode().strip()
    return headers


def message_lines(m):
    """The event lines a message carries (contract section 8): a batch
    (header Procmon-Events, zstd when Content-Encoding says so) is its lines,
    each ended by a newline; any other message is one event."""
    h, body = m["headers"], m["data"]
    if h.get("Content-Encoding") == "zstd":
        body = zstandard.ZstdDecompressor().decompress(body)
    if "Procmon-Events" not in h:
        return [body]
    assert body.endswith(b"\n"), "a batch's last line has no newline"
    lines = body[:-1].split(b"\n")
    assert len(lines) == int(h["Procmon-Events"]), (len(lines), h)
    return lines

"""NATS decentralized authentication for the tests: NKeys, JWTs and a
.creds file, made with Ed25519 from python3-cryptography.

Debian packages no tool that makes them (nsc is not in Debian), so the
test builds the three-level chain itself: an operator signs an account,
the account signs a user. nats-server checks every signature, so a
mistake here fails the test; it cannot make it pass. The formats are
NATS's public ones: an NKey is base32 of a prefix byte, the 32-byte key and
a CRC-16/XMODEM; a JWT is base64url(header).base64url(claims).base64url(
Ed25519 signature), its alg "ed25519-nkey".
"""

import base64
import hashlib
import json
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX_SEED = 18 << 3
PREFIX = {"operator": 14 << 3, "account": 0, "user": 20 << 3}


def _crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(raw):
    raw += _crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


def _b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class NKey:
    """A key pair of one role: .public ("O...", "A...", "U...") and .seed."""

    def __init__(self, role):
        self.role = role
        self.key = Ed25519PrivateKey.generate()
        raw_pub = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        raw_seed = self.key.private_bytes(serialization.Encoding.Raw,
                                          serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        p = PREFIX[role]
        self.public = _encode(bytes([p]) + raw_pub)
        self.seed = _encode(bytes([PREFIX_SEED | p >> 5, (p & 31) << 3]) + raw_seed)

    def sign(self, data):
        return self.key.sign(data)


def jwt(issuer, subject, name, nats):
    """A JWT for subject (an NKey or a public key string), signed by issuer."""
    sub = subject if isinstance(subject, str) else subject.public
    claims = {"iat": int(time.time()), "iss": issuer.public, "name": name, "sub": sub,
              "nats": {**nats, "version": 2}}
    claims["jti"] = base64.b32encode(
        hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()).decode().rstrip("=")
    head = _b64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = _b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64url(issuer.sign(f'{head}.{body}'.encode()))}"


UNLIMITED = {"subs": -1, "data": -1, "payload": -1}
ACCOUNT_LIMITS = {**UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1,
                  "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1,
                  "consumer": -1}


class Chain:
    """An operator, one account with JetStream, users of it, and the
    system account JetStream needs in operator mode."""

    def __init__(self):
        self.operator = NKey("operator")
        self.account = NKey("account")
        self.system = NKey("account")
        self.operator_jwt = jwt(self.operator, self.operator, "test-operator",
                                {"type": "operator", "system_account": self.system.public})
        self.account_jwt = jwt(self.operator, self.account, "fleet",
                               {"type": "account", "limits": ACCOUNT_LIMITS})
        self.system_jwt = jwt(self.operator, self.system, "SYS",
                              {"type": "account", "limits": {**UNLIMITED, "conn": -1}})

    def server_conf(self, directory):
        """nats-server configuration lines trusting this chain."""
        op = directory / "operator.jwt"
        op.write_text(self.operator_jwt)
        return (f'operator: "{op}"\nsystem_account: {self.system.public}\n'
                f'resolver: MEMORY\nresolver_preload: {{\n'
                f'  {self.account.public}: "{self.account_jwt}"\n'
                f'  {self.system.public}: "{self.system_jwt}"\n}}\n')

    def user_creds(self, name, signer=None):
        """A .creds file's text for a new user, signed by this account (or
        by signer, an account key the server does not know)."""
        user = NKey("user")
        token = jwt(signer or self.account, user, name,
                    {"type": "user", "pub": {}, "sub": {}, **UNLIMITED})
        return (f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
                "************************* IMPORTANT *************************\n"
                "NKEY Seed printed below can be used to sign and prove identity.\n\n"
                f"-----BEGIN USER NKEY SEED-----\n{user.seed}\n------END USER NKEY SEED------\n")


def connect_fields(creds_text, nonce):
    """CONNECT's jwt and sig for a client holding creds_text, answering the
    server's nonce."""
    lines = [l.strip() for l in creds_text.splitlines()]
    token = lines[lines.index("-----BEGIN NATS USER JWT-----") + 1]
    seed = lines[lines.index("-----BEGIN USER NKEY SEED-----") + 1]
    raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
    key = Ed25519PrivateKey.from_private_bytes(raw[2:34])
    return {"jwt": token, "sig": _b64url(key.sign(nonce.encode()))}

#!/usr/bin/env python3
"""Writes the seed corpus for the fuzz targets (fuzz/corpus/). Encodes the
PacketWrapper/MediaPacket/MeetingPacket field numbers of PROTOCOL.md §2 by hand
so the seeds do not depend on the code being fuzzed."""
import base64, hashlib, hmac, json, os

def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field_varint(num, v):
    return varint(num << 3) + varint(v)

def field_bytes(num, b):
    return varint((num << 3) | 2) + varint(len(b)) + b

def field_double(num, v):
    import struct
    return varint((num << 3) | 1) + struct.pack("<d", v)

def wrapper(ptype, user, data=b"", sid=0):
    out = field_varint(1, ptype) + field_bytes(2, user)
    if data:
        out += field_bytes(3, data)
    if sid:
        out += field_varint(4, sid)
    return out

def media(mtype, user, data=b"", extra=b""):
    return field_varint(1, mtype) + field_bytes(2, user) + (field_bytes(3, data) if data else b"") + extra

here = os.path.dirname(os.path.abspath(__file__))
c = os.path.join(here, "corpus", "classify")
j = os.path.join(here, "corpus", "jwt")
os.makedirs(c, exist_ok=True)
os.makedirs(j, exist_ok=True)

seeds = {
    "empty": b"",
    "video": wrapper(3, b"alice", media(1, b"alice", b"\x00" * 64, field_bytes(4, b"key") + field_double(5, 1.0e6) +
                                       field_bytes(8, field_varint(1, 7) + field_varint(2, 2)))),
    "audio": wrapper(3, b"alice", media(2, b"alice", b"\x01" * 40, field_bytes(7, field_varint(5, 3)))),
    "heartbeat": wrapper(3, b"alice", media(4, b"alice", extra=field_bytes(9, field_varint(1, 1)))),
    "rtt": wrapper(3, b"alice", media(5, b"alice", extra=field_double(5, 1234.5))),
    "keyframe-request": wrapper(3, b"alice", media(6, b"bob", b"VIDEO")),
    "health": wrapper(6, b"alice", field_bytes(1, b"123") + field_bytes(2, b"room")),
    "congestion": wrapper(9, b"bob", sid=42),
    "meeting": wrapper(7, b"system-&^%$#@!", field_varint(1, 3) + field_bytes(2, b"room") + field_varint(9, 7)),
    "session-assigned": wrapper(8, b"system-&^%$#@!", sid=99),
    "diagnostics": wrapper(5, b"alice", field_bytes(1, b"s") + field_bytes(2, b"1") + field_varint(4, 5)),
    "encrypted-media": wrapper(3, b"alice", os.urandom(48)),
    "forged-session": wrapper(3, b"alice", media(1, b"alice", b"x"), sid=2**64 - 1),
    "unknown-type": wrapper(101, b"alice", b"future"),
    "garbage": b"\xff\xff\xff\xff\x0f\x08",
}
for name, data in seeds.items():
    with open(os.path.join(c, name), "wb") as f:
        f.write(data)

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def token(claims, secret=b"fuzz-secret", header=None):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64(json.dumps(claims).encode())
    s = b64(hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{s}"

base = {"sub": "alice", "room": "standup", "room_join": True, "is_host": False, "display_name": "Alice",
        "observer": False, "exp": 1800000000, "iss": "videocall-meeting-backend"}
jwts = {
    "valid": token(base),
    "expired": token(dict(base, exp=1600000000)),
    "observer": token(dict(base, room_join=False, observer=True)),
    "wrong-secret": token(base, secret=b"other"),
    "alg-none": token(base, header={"alg": "none"}),
    "claims-object": json.dumps(base),
}
for name, data in jwts.items():
    with open(os.path.join(j, name), "w") as f:
        f.write(data)

#!/usr/bin/env python3
"""Hostile traffic for benches/chaos/run.sh: bursts of malformed UDP
packets and oversized or stalled TCP frames, from another loopback address.

    garbage.py PORT SOURCE_ADDR SECONDS

For SECONDS, every 100 ms: a burst of BURST malformed datagrams (short
headers, names running past the end, compression loops, QDCOUNT 2, answers
instead of queries, bad EDNS, 60 KB datagrams, random bytes) to
127.0.0.1:PORT from SOURCE_ADDR; and TCP connections that send a full
65535-byte frame of junk, a zero-length frame, a frame that announces
65535 bytes and stalls after a few (at most STALLED held open at once),
and a stream of junk frames. Prints what it sent and how many answers came
back. Every socket is closed before it exits. Stdlib only.
"""

import random
import socket
import sys
import time

BURST = 200  # datagrams per 100 ms
STALLED = 32  # stalled TCP connections held open at once
HEADER = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
QUESTION = b"\x07example\x03com\x00\x00\x01\x00\x01"


def malformed(rng):
    """One malformed datagram, of a random kind."""
    kind = rng.randrange(10)
    if kind == 0:  # shorter than a header
        return rng.randbytes(rng.randrange(12))
    if kind == 1:  # QDCOUNT 1, no question
        return HEADER
    if kind == 2:  # a label that runs past the end
        return HEADER + b"\x3fabc"
    if kind == 3:  # a compression pointer to itself
        return HEADER + b"\xc0\x0c\x00\x01\x00\x01"
    if kind == 4:  # two questions
        return HEADER[:4] + b"\x00\x02" + HEADER[6:] + QUESTION * 2
    if kind == 5:  # a valid query with 60 KB of trailing junk
        return HEADER + QUESTION + rng.randbytes(60000)
    if kind == 6:  # an answer (QR set) sent to the server
        return b"\x12\x34\x81\x80" + HEADER[4:] + QUESTION
    if kind == 7:  # an OPT record whose RDLENGTH runs past the end
        return (
            HEADER[:10] + b"\x00\x01" + QUESTION + b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\xff\xff"
        )
    if kind == 8:  # opcode 15
        return b"\x12\x34\x79\x00" + HEADER[4:] + QUESTION
    return rng.randbytes(rng.randrange(12, 512))  # random bytes


def tcp(port, source, payload, keep=False):
    """Connect from SOURCE, send PAYLOAD; return the socket if KEEP."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(payload)
    except OSError:
        s.close()
        return None
    if keep:
        return s
    s.close()
    return None


def main():
    port, source, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rng = random.Random(5)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((source, 0))
    udp.setblocking(False)
    stalled = []
    sent = {"udp": 0, "udp_bytes": 0, "tcp": 0, "udp_answers": 0}
    end = time.monotonic() + seconds
    tick = 0
    while time.monotonic() < end:
        for _ in range(BURST):
            pkt = malformed(rng)
            try:
                udp.sendto(pkt, ("127.0.0.1", port))
                sent["udp"] += 1
                sent["udp_bytes"] += len(pkt)
            except OSError:
                pass
        while True:
            try:
                udp.recv(65535)
                sent["udp_answers"] += 1
            except OSError:
                break
        tick += 1
        if tick % 5 == 0:
            frames = [
                b"\xff\xff" + rng.randbytes(65535),  # a full frame of junk
                b"\x00\x00",  # a zero-length frame
                b"".join(b"\x00\x20" + rng.randbytes(32) for _ in range(200)),
            ]
            for payload in frames:
                tcp(port, source, payload)
                sent["tcp"] += 1
            s = tcp(port, source, b"\xff\xff" + rng.randbytes(16), keep=True)
            sent["tcp"] += 1
            if s is not None:
                stalled.append(s)
                if len(stalled) > STALLED:
                    stalled.pop(0).close()
        time.sleep(0.1)
    for s in stalled:
        s.close()
    udp.close()
    print(" ".join(f"{k}={v}" for k, v in sent.items()), flush=True)


if __name__ == "__main__":
    main()

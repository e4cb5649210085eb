#!/usr/bin/env python3
"""The side client of benches/chaos/run.sh: checks, all through the run,
that names on the list in service are blocked and names on neither list
are answered, and counts the blocking errors.

    side_client.py PORT SOURCE_ADDR SINKHOLE STATE_FILE PHASE_FILE OUT_FILE \\
                   ONLY_A ONLY_B BOTH NEITHER

ONLY_A, ONLY_B, BOTH and NEITHER are files of names: on list A only, on
list B only, on both lists, on neither. STATE_FILE holds "SEQ LIST STATE"
as the publisher writes it ("3 B stable", "3 B moving"): a round is judged
only when the state read before and after it is the same stable one, so
that the race right after a publish is not counted as an error. Each round
asks a few names of each set (A queries from SOURCE_ADDR to
127.0.0.1:PORT); a blocking error is a listed name answered with anything
but the sinkhole address, or an unlisted name answered with the sinkhole.
Listed names that get no answer at all (lost), and unlisted names that get
SERVFAIL or no answer (the upstream is down), are counted apart. Per-phase counters (phase name from
PHASE_FILE) are rewritten to OUT_FILE every second and on SIGTERM; errors
are printed to stderr. Stdlib only.
"""

import ipaddress
import os
import random
import select
import signal
import socket
import sys
import time

ROUND_TIMEOUT = 3.0  # seconds: longer than the resolver's upstream deadline
PER_SET = 4  # names of each set per round
PAUSE = 0.02  # seconds between rounds (about 800 queries a second)
FIELDS = ("rounds", "unjudged", "checks", "errors", "listed_lost", "unlisted_failed")


def read_names(path):
    with open(path, encoding="ascii") as f:
        return [line.strip() for line in f if line.strip()]


def read_text(path):
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def encode_query(qid, name):
    """A query for NAME A, recursion desired."""
    wire = b"".join(
        bytes([len(label)]) + label.encode("ascii") for label in name.split(".")
    )
    header = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    return header + wire + b"\x00\x00\x01\x00\x01"


def skip_name(msg, pos):
    while pos < len(msg):
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += n + 1
    raise ValueError("name runs past the message")


def decode_answer(msg):
    """(ID, rcode name, [A addresses]) of an answer."""
    qid = int.from_bytes(msg[0:2], "big")
    rcode = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(
        msg[3] & 0x0F, f"RCODE{msg[3] & 0x0F}"
    )
    qd, an = int.from_bytes(msg[4:6], "big"), int.from_bytes(msg[6:8], "big")
    pos = 12
    for _ in range(qd):
        pos = skip_name(msg, pos) + 4
    addrs = []
    for _ in range(an):
        pos = skip_name(msg, pos)
        rtype = int.from_bytes(msg[pos : pos + 2], "big")
        rdlen = int.from_bytes(msg[pos + 8 : pos + 10], "big")
        rdata = msg[pos + 10 : pos + 10 + rdlen]
        if rtype == 1 and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(rdata)))
        pos += 10 + rdlen
    return qid, rcode, addrs


def ask(sock, port, names):
    """Ask every name at once; {name: (rcode, addrs)} for those answered."""
    ids = {}
    for name in names:
        qid = random.randrange(65536)
        while qid in ids:
            qid = random.randrange(65536)
        ids[qid] = name
        sock.sendto(encode_query(qid, name), ("127.0.0.1", port))
    got = {}
    deadline = time.monotonic() + ROUND_TIMEOUT
    while len(got) < len(ids):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        msg = sock.recv(4096)
        try:
            qid, rcode, addrs = decode_answer(msg)
        except (ValueError, IndexError):
            continue
        if qid in ids:
            got[ids[qid]] = (rcode, addrs)
    return got


class Counters:
    """Per-phase counters, written to a file."""

    def __init__(self, path):
        self.path = path
        self.phases = {}
        self.written = 0.0

    def add(self, phase, **counts):
        row = self.phases.setdefault(phase, dict.fromkeys(FIELDS, 0))
        for k, v in counts.items():
            row[k] += v

    def write(self, force=False):
        now = time.monotonic()
        if not force and now - self.written < 1.0:
            return
        self.written = now
        with open(self.path + ".tmp", "w", encoding="ascii") as f:
            for phase, row in self.phases.items():
                print(phase, *(row[k] for k in FIELDS), file=f)
        # Atomic, so that run.sh never reads half a file.
        os.replace(self.path + ".tmp", self.path)


def judge(state, names_by_set, answers, sink):
    """Counts of a round ({FIELD: n}) and the texts of its errors."""
    listed_sets = {"A": ("both", "only_a"), "B": ("both", "only_b")}[state[1]]
    checks = errors = listed_lost = unlisted_failed = 0
    texts = []
    for set_name, names in names_by_set.items():
        listed = set_name in listed_sets
        for name in names:
            checks += 1
            rcode, addrs = answers.get(name, ("LOST", []))
            blocked = rcode == "NOERROR" and sink in addrs
            if listed and rcode == "LOST":
                listed_lost += 1
            elif listed and not blocked:
                errors += 1
                texts.append(f"{name} ({set_name}) on list {state[1]}: {rcode} {addrs}")
            elif not listed and blocked:
                errors += 1
                texts.append(f"{name} ({set_name}) not on list {state[1]}: blocked")
            elif not listed and rcode != "NOERROR":
                unlisted_failed += 1
    counts = {
        "checks": checks,
        "errors": errors,
        "listed_lost": listed_lost,
        "unlisted_failed": unlisted_failed,
    }
    return counts, texts


def main():
    port, source, sink, state_file, phase_file, out = sys.argv[1:7]
    port = int(port)
    sets = dict(zip(("only_a", "only_b", "both", "neither"), map(read_names, sys.argv[7:11])))
    counters = Counters(out)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    rng = random.Random(11)
    while running[0]:
        phase = read_text(phase_file) or "setup"
        before = read_text(state_file).split()
        picked = {k: rng.sample(v, PER_SET) for k, v in sets.items()}
        answers = ask(sock, port, [n for names in picked.values() for n in names])
        after = read_text(state_file).split()
        if len(before) != 3 or before != after or before[2] != "stable":
            counters.add(phase, rounds=1, unjudged=1)
        else:
            counts, texts = judge(before, picked, answers, sink)
            counters.add(phase, rounds=1, **counts)
            for text in texts:
                print(f"blocking error in phase {phase}, list seq {before[0]}: {text}",
                      file=sys.stderr, flush=True)
        counters.write()
        time.sleep(PAUSE)
    counters.write(force=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A faulty network path for benches/chaos/run.sh: a UDP relay between the
resolver and its upstream that drops and delays packets on command.

    relay.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE

Listens on 127.0.0.1:LISTEN_PORT and forwards every datagram to
127.0.0.1:UPSTREAM_PORT from one socket, rewriting the DNS message ID to a
relay ID so that answers find their way back (the ID is restored). On
SIGHUP it reads CONTROL_FILE, "LOSS DELAY" (a fraction of packets to drop
in each direction, and seconds to hold each query), and prints the mode it
applied, which run.sh waits for. Used where `tc netem` is not available
(containers without the sch_netem module). Loopback only; stdlib only.
"""

import asyncio
import random
import signal
import sys
import time

PENDING_TTL = 10.0  # seconds an unanswered query's ID mapping is kept


class Relay:
    """Both sides of the relay and the ID map between them."""

    def __init__(self, upstream_port, control):
        self.upstream = ("127.0.0.1", upstream_port)
        self.control = control
        self.loss = 0.0
        self.delay = 0.0
        self.next_id = 0
        self.pending = {}  # relay ID -> (client address, original ID, time)
        self.front = None
        self.back = None
        self.rng = random.Random(7)
        self.counts = {"queries": 0, "answers": 0, "dropped": 0}

    def reread(self):
        """Apply the mode in the control file."""
        with open(self.control, encoding="ascii") as f:
            loss, delay = f.read().split()
        self.loss, self.delay = float(loss), float(delay)
        # Echoes the file's own words: run.sh waits for exactly them.
        print(f"mode loss={loss} delay={delay} {self.counts}", flush=True)

    def dropped(self):
        if self.loss > 0 and self.rng.random() < self.loss:
            self.counts["dropped"] += 1
            return True
        return False

    def query(self, data, client):
        """A query from the resolver: map its ID, then forward it."""
        if len(data) < 12:
            return
        self.counts["queries"] += 1
        if self.dropped():
            return
        now = time.monotonic()
        if len(self.pending) > 50000:
            self.pending = {
                k: v for k, v in self.pending.items() if now - v[2] < PENDING_TTL
            }
        self.next_id = (self.next_id + 1) & 0xFFFF
        self.pending[self.next_id] = (client, data[:2], now)
        out = self.next_id.to_bytes(2, "big") + data[2:]
        if self.delay > 0:
            asyncio.get_running_loop().call_later(
                self.delay, self.back.sendto, out, self.upstream
            )
        else:
            self.back.sendto(out, self.upstream)

    def answer(self, data):
        """An answer from the upstream: restore the ID, return it."""
        if len(data) < 12:
            return
        entry = self.pending.pop(int.from_bytes(data[:2], "big"), None)
        if entry is None or self.dropped():
            return
        self.counts["answers"] += 1
        self.front.sendto(entry[1] + data[2:], entry[0])


class Side(asyncio.DatagramProtocol):
    """One socket of the relay; hands datagrams to a callback."""

    def __init__(self, on_datagram):
        self.on_datagram = on_datagram

    def datagram_received(self, data, addr):
        self.on_datagram(data, addr)

    def error_received(self, exc):
        # ICMP port unreachable while the upstream is stopped: the query
        # is lost, as it would be on a real path.
        pass


async def main():
    listen_port, upstream_port, control = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
    )
    relay = Relay(upstream_port, control)
    loop = asyncio.get_running_loop()
    relay.front, _ = await loop.create_datagram_endpoint(
        lambda: Side(relay.query), local_addr=("127.0.0.1", listen_port)
    )
    relay.back, _ = await loop.create_datagram_endpoint(
        lambda: Side(lambda data, _addr: relay.answer(data)),
        local_addr=("127.0.0.1", 0),
    )
    relay.reread()
    loop.add_signal_handler(signal.SIGHUP, relay.reread)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(f"stopped {relay.counts}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

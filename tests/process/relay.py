#!/usr/bin/env python3
"""A TCP relay with latency and resets, for test_relay_faults.py (issue
11): what netem would do to one path, where the kernel has no netem.

    relay.py --listen ADDR --upstream ADDR --ports 5557,5558,5559
             [--delay-ms 50] [--reset-rate 0.01] [--seed N]
             [--reset-after 0.5,2.5]

For every port it listens on ADDR:port and relays each connection it
accepts to UPSTREAM:port (a proxy at the socket level: the kernel does
TCP, asyncio the I/O; no packet is made by hand).

- Delay: each direction of a connection is a delay line. Every chunk read
  is stamped and released --delay-ms after it arrived, while reading goes
  on: data keeps flowing at the rate it comes, 50 ms late, and it is not
  stop-and-wait. A line holds at most LINE_CHUNKS chunks; past that its
  reader waits (TCP's flow control pushes back on the sender), as a link
  with a bounded queue does. An end of stream (FIN) or a reset from a peer
  travels down the line like data, and is passed on when it comes out.
- Resets: each accepted connection is doomed with probability
  --reset-rate, drawn from a seeded RNG of its port's own (reset_draws()),
  so the same seed dooms the same connections in the same order on each
  port whatever the order in which different ports accept. A doomed
  connection is reset at a time drawn from --reset-after (seconds after it
  was accepted): SO_LINGER 0 on both its sockets, then close, which sends
  an RST to each side (the worker and the master) and drops what the delay
  lines still hold, as a middlebox that resets a connection does.

It prints one line per event on stdout ("listening ...", "accept ...",
"reset ...", "peer-reset ...", "close ..."), flushed, and on SIGTERM or
SIGINT a last line "stats {JSON}" (connections and resets per port, bytes
and chunks each way, the time chunks were held: min, mean, max, and the
deepest a delay line got), then exits 0.
"""

import argparse
import asyncio
import json
import random
import signal
import socket
import struct
import sys
import time

CHUNK = 65536
LINE_CHUNKS = 4096          # at most 256 MiB in one line; far beyond a test's
LINGER_RST = struct.pack("ii", 1, 0)


def reset_draws(seed, port):
    """The RNG that decides, connection after connection, which of port's
    connections are reset and when (string seeds are hashed with SHA-512:
    the same in every process, whatever PYTHONHASHSEED)."""
    return random.Random("taskmill-relay:%d:%d" % (seed, port))


def draw(rng, rate, after):
    """One connection's fate: (doomed, seconds after accept)."""
    doomed = rng.random() < rate
    return doomed, rng.uniform(after[0], after[1])


def first_seed(rate, ports, start=1):
    """The first seed from start that dooms the first connection on each of
    ports (for a test that must see those resets happen)."""
    seed = start
    while not all(reset_draws(seed, p).random() < rate for p in ports):
        seed += 1
    return seed


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def rst(writer):
    """Closes writer's connection with an RST (SO_LINGER 0, then close)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
        except OSError:
            pass
    writer.transport.abort()


class PeerReset(Exception):
    """A peer reset its side (or its socket failed): reset the other."""


class Stats:
    def __init__(self, ports):
        self.accepted = {p: 0 for p in ports}
        self.resets = []            # injected: {"conn", "port", "after_s"}
        self.peer_resets = 0        # passed on from a peer
        self.upstream_failed = 0
        self.bytes = {"up": 0, "down": 0}
        self.chunks = {"up": 0, "down": 0}
        self.hold_min = None
        self.hold_max = 0.0
        self.hold_sum = 0.0
        self.peak_line = 0

    def held(self, direction, size, hold):
        self.bytes[direction] += size
        self.chunks[direction] += 1
        self.hold_min = hold if self.hold_min is None else min(self.hold_min, hold)
        self.hold_max = max(self.hold_max, hold)
        self.hold_sum += hold

    def as_dict(self, args):
        n = self.chunks["up"] + self.chunks["down"]
        return {"delay_ms": args.delay_ms, "reset_rate": args.reset_rate, "seed": args.seed,
                "accepted": {str(p): c for p, c in self.accepted.items()},
                "resets": self.resets, "peer_resets": self.peer_resets,
                "upstream_failed": self.upstream_failed, "bytes": self.bytes,
                "chunks": self.chunks,
                "hold_ms": {"min": (self.hold_min or 0) * 1000,
                            "mean": self.hold_sum / n * 1000 if n else 0,
                            "max": self.hold_max * 1000},
                "peak_line_chunks": self.peak_line}


class Relay:
    def __init__(self, args):
        self.args = args
        self.delay = args.delay_ms / 1000.0
        self.after = tuple(float(x) for x in args.reset_after.split(","))
        self.ports = [int(p) for p in args.ports.split(",")]
        self.draws = {p: reset_draws(args.seed, p) for p in self.ports}
        self.stats = Stats(self.ports)
        self.conns = 0
        self.open = {}              # conn number -> (client writer, upstream writer)
        self.t0 = time.monotonic()

    async def line(self, reader, writer, direction):
        """One direction of a connection: a delay line from reader to
        writer. Returns at end of stream; raises PeerReset if a side fails."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue(maxsize=LINE_CHUNKS)

        async def feed():
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError as e:
                    data = e
                await queue.put((loop.time(), data))
                self.stats.peak_line = max(self.stats.peak_line, queue.qsize())
                if not isinstance(data, bytes) or not data:
                    return
        feeder = asyncio.ensure_future(feed())
        try:
            while True:
                arrived, data = await queue.get()
                wait = arrived + self.delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not isinstance(data, bytes):
                    raise PeerReset(str(data))
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                self.stats.held(direction, len(data), loop.time() - arrived)
                writer.write(data)
                try:
                    await writer.drain()
                except OSError as e:
                    raise PeerReset(str(e))
        finally:
            feeder.cancel()

    async def handle(self, port, c_reader, c_writer):
        try:
            await self.relay(port, c_reader, c_writer)
        except asyncio.CancelledError:
            pass        # at exit: asyncio.run cancels what is left

    async def relay(self, port, c_reader, c_writer):
        self.conns += 1
        conn = self.conns
        self.stats.accepted[port] += 1
        doomed, after = draw(self.draws[port], self.args.reset_rate, self.after)
        peer = c_writer.get_extra_info("peername")
        try:
            u_reader, u_writer = await asyncio.open_connection(self.args.upstream, port)
        except OSError as e:
            self.stats.upstream_failed += 1
            say("upstream-failed conn %d port %d: %s" % (conn, port, e))
            rst(c_writer)
            return
        say("accept conn %d port %d from %s:%d%s" % (
            conn, port, peer[0], peer[1], " doomed: reset after %.2f s" % after if doomed else ""))
        self.open[conn] = (c_writer, u_writer)
        lines = [asyncio.ensure_future(self.line(c_reader, u_writer, "up")),
                 asyncio.ensure_future(self.line(u_reader, c_writer, "down"))]
        timer = asyncio.ensure_future(asyncio.sleep(after if doomed else 1e9))
        try:
            pending = set(lines)
            while pending:
                done, _ = await asyncio.wait(pending | {timer},
                                             return_when=asyncio.FIRST_COMPLETED)
                if timer in done:
                    self.stats.resets.append({"conn": conn, "port": port, "after_s": after,
                                              "at_s": time.monotonic() - self.t0})
                    say("reset conn %d port %d after %.2f s" % (conn, port, after))
                    rst(c_writer)
                    rst(u_writer)
                    return
                for task in done:
                    pending.discard(task)
                    if task.exception() is not None:
                        self.stats.peer_resets += 1
                        say("peer-reset conn %d port %d: %s" % (conn, port, task.exception()))
                        rst(c_writer)
                        rst(u_writer)
                        return
            say("close conn %d port %d" % (conn, port))
            c_writer.close()
            u_writer.close()
        finally:
            for task in lines + [timer]:
                task.cancel()
            self.open.pop(conn, None)

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        servers = []
        for port in self.ports:
            def handler(r, w, port=port):
                return self.handle(port, r, w)
            servers.append(await asyncio.start_server(handler, self.args.listen, port,
                                                      reuse_address=True))
        say("listening on %s ports %s, upstream %s, delay %d ms, reset rate %g, seed %d"
            % (self.args.listen, self.args.ports, self.args.upstream, self.args.delay_ms,
               self.args.reset_rate, self.args.seed))
        await stop.wait()
        for server in servers:
            server.close()
        for c_writer, u_writer in list(self.open.values()):
            c_writer.transport.abort()
            u_writer.transport.abort()
        say("stats " + json.dumps(self.stats.as_dict(self.args), sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--delay-ms", type=int, default=50)
    ap.add_argument("--reset-rate", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reset-after", default="0.5,2.5")
    asyncio.run(Relay(ap.parse_args()).run())


if __name__ == "__main__":
    main()

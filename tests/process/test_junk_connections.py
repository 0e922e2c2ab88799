#!/usr/bin/env python3
"""Junk and half-open TCP connections on every port while a job runs
(issue 10), in plaintext: what anyone who reaches the ports can do.

On each of the master's ports (tasks, results, control, admin, and the
HTTP dashboard) the test keeps JUNK_PER_PORT connections open, a mix of:
  - random bytes (libzmq may take them for a ZMTP 1.0 peer and wait);
  - a ZMTP greeting naming a mechanism that does not exist (the handshake
    fails: counted by the master on the tasks socket);
  - a valid ZMTP greeting, then nothing (half a handshake);
  - nothing at all (a connection that never speaks).
On the ZeroMQ ports a few well-formed peers also send frames that are not
protobuf, which the master drops and counts as garbage. Connections the
master closes are opened again (bounded) while the job runs.

Checked: the job completes, every task exactly once, exit 0; the junk is
counted where the master counts it (summary: handshakes_failed,
garbage_dropped); the master's RSS stays under CAP_RSS_RISE_MB. The job's
rate with the junk is printed beside its rate without (a figure for
README.md, not asserted: this machine's timing is too noisy).

Not tested here: a frame header announcing a large frame. libzmq allocates
a frame's whole announced size when its header arrives (up to the socket's
ZMQ_MAXMSGSIZE: 64 MiB on the results socket, --max-frame), so a plaintext
peer that sends such headers on many results connections reserves that
much per connection (README.md, "Security").
"""

import os
import random
import resource
import select
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

JUNK_PER_PORT = 200
REOPEN_MAX = 2000           #  connections opened again after the master closed them, at most
JUNK_FRAMES = 50            #  frames that are not protobuf, per ZeroMQ port that reads them
TASKS = 500000              #  noop tasks: a second or two on 2 cores
#  What the junk may add to the master's RSS. libzmq holds a few buffers a
#  connection (8 KiB batches in and out, a session, pipes): 1000 connections
#  are tens of MB.
CAP_RSS_RISE_MB = 128
os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                   "quarantine_size_mb=8"]))


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < need:
        raise h.TestSkip("RLIMIT_NOFILE is %d, the test needs %d" % (soft, need))


class Junk:
    """JUNK_PER_PORT junk connections on each port, kept open by a thread
    (reopened when the master closes them) until stop()."""

    KINDS = ("random", "bad-mechanism", "greeting-only", "silent")

    def __init__(self, ports):
        self.rng = random.Random(10)
        self.conns = {}         #  fd -> (socket, port, kind)
        self.opened = {kind: 0 for kind in self.KINDS}
        self.closed_by_master = {kind: 0 for kind in self.KINDS}
        self.reopened = 0
        self.frozen = None      #  the counts when the job ended (the master's exit closes the rest)
        self.stopping = False
        for port in ports:
            for i in range(JUNK_PER_PORT):
                self._open(port, self.KINDS[i % len(self.KINDS)])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, port, kind):
        sock = h.connect(port)
        if kind == "random":
            data = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 512)))
            sock.sendall(data)
        elif kind == "bad-mechanism":
            sock.sendall(h.zmtp_greeting(mechanism=b"JUNK"))
        elif kind == "greeting-only":
            sock.sendall(h.zmtp_greeting())
        sock.setblocking(False)
        self.conns[sock.fileno()] = (sock, port, kind)
        self.opened[kind] += 1

    def _run(self):
        poller = select.poll()
        for fd in self.conns:
            poller.register(fd, select.POLLIN)
        while not self.stopping:
            for fd, _ in poller.poll(50):
                sock, port, kind = self.conns[fd]
                try:
                    if sock.recv(65536):
                        continue        #  its greeting, an HTTP error page: read and dropped
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                poller.unregister(fd)
                del self.conns[fd]
                sock.close()
                self.closed_by_master[kind] += 1
                if self.reopened < REOPEN_MAX and not self.stopping:
                    self.reopened += 1
                    try:
                        self._open(port, kind)
                    except OSError:
                        continue
                    poller.register(max(self.conns), select.POLLIN)

    def freeze(self):
        """Keeps the counts as they are now, before the master exits."""
        self.frozen = "opened %s; closed by the master %s; open %d" % (
            dict(self.opened), dict(self.closed_by_master), len(self.conns))

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        for sock, _, _ in list(self.conns.values()):
            sock.close()
        self.conns.clear()


def send_junk_frames(ctx, ports):
    """Well-formed ZeroMQ peers sending frames that are not protobuf (and an
    admin request that is not JSON); returns their sockets, still open."""
    import zmq
    socks = []
    for sock_type, port in ((zmq.DEALER, ports.tasks), (zmq.PUSH, ports.results),
                            (zmq.DEALER, ports.admin)):
        sock = ctx.socket(sock_type)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(h.Ports.ep(port))
        for i in range(JUNK_FRAMES):
            sock.send(b"\xff\xfe not protobuf %d" % i)
        socks.append(sock)
    return socks


def run_job(env, with_junk, freeze_at_bytes=None):
    """One noop job of TASKS tasks (the junk counted once freeze_at_bytes of
    results are written); returns (seconds from the worker's start to
    the master's exit, the summary, junk stats or None, RSS base, peak)."""
    import zmq
    ports = h.Ports()
    http_port = h.free_ports(1)[0]
    out, summary = env.path("out-%d.jsonl" % with_junk), env.path("summary-%d.json" % with_junk)
    master = env.start_master(ports, out=out, summary=summary,
                              extra=["--generate", str(TASKS), "--quiet",
                                     "--http", "127.0.0.1:%d" % http_port])
    h.wait_for(lambda: h.is_listening(ports.admin) and h.is_listening(http_port), h.scaled(10),
               "the master to listen")
    base = peak = rss_mb(master.pid)
    junk = None
    ctx = zmq.Context()
    socks = []
    try:
        if with_junk:
            junk = Junk([ports.tasks, ports.results, ports.control, ports.admin, http_port])
            socks = send_junk_frames(ctx, ports)
        started = time.monotonic()
        env.start_worker(ports, threads=2)
        while master.poll() is None and time.monotonic() - started < h.scaled(120):
            peak = max(peak, rss_mb(master.pid))
            #  Most of the results written: the job still runs, and the junk
            #  is counted before the master's exit closes what is left.
            if junk and not junk.frozen and os.path.exists(out) \
                    and os.path.getsize(out) >= freeze_at_bytes:
                junk.freeze()
            time.sleep(0.02)
        took = time.monotonic() - started
        status = master.wait_exit(h.scaled(10), "master")
    finally:
        if junk:
            junk.stop()
        for sock in socks:
            sock.close(0)
        ctx.destroy(linger=0)
    h.check_eq(status, 0, "master exit status")
    h.check_exactly_once(h.read_results(out), TASKS)
    return took, h.read_summary(summary), junk, base, peak


def test_junk_on_every_port_while_a_job_runs(env):
    raise_nofile(4 * 5 * JUNK_PER_PORT + 1024)
    plain_s, _, _, _, _ = run_job(env, False)
    junk_s, s, junk, base, peak = run_job(env, True, os.path.getsize(env.path("out-0.jsonl")) * 0.8)
    h.check(junk.frozen, "the job ended before 80% of its results were seen")
    env.note("%d noop tasks, 1 worker x 2 threads: %.0f tasks/s without junk, %.0f tasks/s with "
             "%d junk connections on each of 5 ports (%.2f s against %.2f s)"
             % (TASKS, TASKS / plain_s, TASKS / junk_s, JUNK_PER_PORT, junk_s, plain_s))
    env.note("junk at the job's end: %s" % junk.frozen)
    env.note("master RSS %.0f MB -> peak %.0f MB with the junk (cap +%d MB)"
             % (base, peak, CAP_RSS_RISE_MB))
    env.note("summary: handshakes_failed %d, garbage_dropped %d"
             % (s.get("handshakes_failed", -1), s.get("garbage_dropped", -1)))
    #  Every bad-mechanism greeting on the tasks port fails its handshake.
    h.check(s.get("handshakes_failed", 0) >= JUNK_PER_PORT // 4,
            "the tasks socket counted %s failed handshakes, expected %d or more"
            % (s.get("handshakes_failed"), JUNK_PER_PORT // 4))
    #  The tasks and results sockets' junk frames (the admin's count apart).
    h.check(s.get("garbage_dropped", 0) >= 2 * JUNK_FRAMES,
            "garbage_dropped is %s, expected %d or more" % (s.get("garbage_dropped"),
                                                            2 * JUNK_FRAMES))
    h.check(peak - base < CAP_RSS_RISE_MB, "the master's RSS rose by %.0f MB" % (peak - base))


if __name__ == "__main__":
    h.main([test_junk_on_every_port_while_a_job_runs], __doc__)

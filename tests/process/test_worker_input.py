#!/usr/bin/env python3
"""Hostile input aimed at a worker's own sockets (issue 3).

A worker connects out: tasks (DEALER), results (PUSH), control (SUB). Here a
fake master played with pyzmq (FakeMaster: a ROUTER, a PULL and an XPUB,
messages built and read with taskmill_pb2) takes the real worker's three
connections and:

- test_hostile_frames_at_worker: sends, on tasks and on control, random
  bytes, an empty frame, truncated protobuf, valid envelopes of the wrong
  kind (a result batch or heartbeat on tasks, a task batch on control, a
  SHUTDOWN on tasks), wrong protocol versions (a SHUTDOWN and a DRAIN among
  them), fields out of range, an allocation bomb, multi-part messages made
  of valid frames, and a frame over ZMQ_MAXMSGSIZE (libzmq closes that
  connection; the worker must reconnect and go on). After each kind the
  worker is alive and still answers (a probe task comes back; on control,
  a JOB_START it logs), no task from a hostile frame ever runs, a final
  valid TaskBatch comes back as correct Result frames for exactly its seqs,
  the dropped frames are logged rate-limited and counted exactly (the count
  in the worker's last log line), and SIGTERM ends it with 0;
- test_hostile_frames_at_worker_results: the same checks, towards the
  results PUSH socket, which never reads: garbage, a task batch, a
  multi-part message, a flood past its high-water mark and an oversized
  frame. No pyzmq socket sends to a PUSH, so here the results port is the
  hand-written server side of ZMTP 3.0 NULL (harness.ZmtpListener); none
  of it reaches the worker's code (no frame counted as dropped);
- test_broken_handshakes_at_worker: the transport level on all three ports
  at once, through harness.ZmtpListener (pyzmq cannot break a handshake):
  connections closed at accept, garbage instead of a greeting, the CURVE
  mechanism, an incompatible socket type, a close in mid-handshake, and raw
  random bytes after a good handshake; the worker redials each time and
  then, in front of the pyzmq fake master on the same ports, runs a valid
  batch correctly.
"""

import hashlib
import os
import random
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

zmq = h.zmq

JOB = "job-w"
WORKER_ID = "w1"
START, END, DRAIN, SHUTDOWN = 1, 2, 3, 4      # Control.Kind


def max_frame_bytes(name="TM_MAX_FRAME_BYTES"):
    """A ZMQ_MAXMSGSIZE from common/tm_limits.h, read from the header so the
    test follows the code: TM_MAX_FRAME_BYTES (a worker's tasks socket),
    TM_MAX_CONTROL_FRAME_BYTES (its control SUB), TM_MAX_PUSH_INBOUND_BYTES
    (its results PUSH)."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "common", "tm_limits.h")
    with open(header) as f:
        text = f.read()
    m = re.search(r"#define\s+%s\s+\(?([\d\s*]+)\)?" % name, text)
    h.check(m, "%s not found in %s" % (name, header))
    value = 1
    for factor in m.group(1).split("*"):
        value *= int(factor)
    return value


#  The limit of each of a worker's sockets, by name.
LIMITS = {"tasks": "TM_MAX_FRAME_BYTES", "control": "TM_MAX_CONTROL_FRAME_BYTES",
          "results": "TM_MAX_PUSH_INBOUND_BYTES"}


def task(seq, type="echo", payload="must not run", job=JOB, **fields):
    """A dict of Task fields (see harness.master_to_worker)."""
    t = dict(job_id=job, seq=seq, id="t%d" % seq, type=type, payload=payload.encode(),
             timeout_ms=5000, attempt=1, max_attempts=1)
    t.update(fields)
    return t


def batch(*tasks, version=1):
    return h.master_to_worker(tasks, version=version)


def oversized_frame(name):
    """A frame one byte over the limit of a worker's socket: its libzmq
    refuses it when it reads the size and closes the connection."""
    return bytes(max_frame_bytes(LIMITS[name]) + 1)


def oversized_header(name):
    """The start of an oversized frame, for the hand-written ZMTP server
    side (harness.ZmtpServerConn)."""
    limit = max_frame_bytes(LIMITS[name])
    return b"\x02" + (limit + 1).to_bytes(8, "big") + bytes(min(limit, 65536))


class FakeMaster:
    """The master's three bound sockets, played by the test with pyzmq:
    - tasks: a ROUTER; the worker's DEALER connects and sends a Credit
      first, and tasks go to its routing id (the worker's incarnation);
    - results: a PULL; with raw_results, harness.ZmtpListener (the server
      side of ZMTP written by hand) instead, to send frames *to* the
      worker's PUSH, which no pyzmq socket can (a PULL does not send);
    - control: an XPUB, a PUB that hands the SUB's subscriptions up, so the
      test knows when the worker listens (a PUB drops what it sends before).
    Monitors on tasks and control count the connections the worker drops.
    bind() makes the sockets, so that a test may first play the ports with
    raw listeners (harness.ZmtpListener on tasks_port ...)."""

    def __init__(self, raw_results=False):
        self.pb = h.proto()
        self.tasks_port, self.results_port, self.control_port = h.free_ports(3)
        self.raw_results = raw_results
        self.ctx = None
        self.routing_id = None  # the worker's DEALER, from its Credit
        self.epoch = 0          # the highest Credit.epoch seen: one per tasks connection
        self.subscriptions = 0  # SUBSCRIBE messages seen on control: one per connection
        self.dropped = {"tasks": 0, "control": 0}   # connections closed by the worker
        self.by_key = {}        # (job id, seq) -> [taskmill_pb2.Result]
        self.heartbeats = []    # taskmill_pb2.Heartbeat
        self.undecodable = []
        self._seen = {}         # raw results connection -> messages decoded

    def bind(self):
        ctx = self.ctx = zmq.Context()
        self.tasks = ctx.socket(zmq.ROUTER)
        self.tasks.setsockopt(zmq.ROUTER_MANDATORY, 1)      # a send to no worker raises
        self.tasks.setsockopt(zmq.ROUTER_HANDOVER, 1)       # a new connection takes the id over
        self.control = ctx.socket(zmq.XPUB)
        self.control.setsockopt(zmq.XPUB_VERBOSE, 1)        # every SUBSCRIBE, not only the first
        self.monitors = {"tasks": self.tasks.get_monitor_socket(zmq.EVENT_DISCONNECTED),
                         "control": self.control.get_monitor_socket(zmq.EVENT_DISCONNECTED)}
        for sock, port in ((self.tasks, self.tasks_port), (self.control, self.control_port)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(h.Ports.ep(port))
        if self.raw_results:
            self.results = h.ZmtpListener(b"PULL", expect_peer=b"PUSH", port=self.results_port)
        else:
            self.results = ctx.socket(zmq.PULL)
            self.results.setsockopt(zmq.LINGER, 0)
            self.results.bind(h.Ports.ep(self.results_port))

    def worker_args(self, threads=2):
        return [h.HOST, "--tasks", h.Ports.ep(self.tasks_port),
                "--results", h.Ports.ep(self.results_port),
                "--control", h.Ports.ep(self.control_port), "--threads", str(threads), "--id", WORKER_ID]

    def read(self):
        """Reads what the worker sent on tasks (Credit) and control
        (subscriptions), and the monitors' events."""
        while self.tasks.poll(0):
            frames = self.tasks.recv_multipart()
            try:
                env = self.pb.WorkerToMaster.FromString(frames[-1])
            except h.DecodeError as e:
                self.undecodable.append("tasks: %s: %s" % (e, h.short(frames)))
                continue
            if len(frames) == 2 and env.WhichOneof("body") == "credit":
                self.routing_id = frames[0]
                self.epoch = max(self.epoch, env.credit.epoch)
        while self.control.poll(0):
            self.subscriptions += self.control.recv()[:1] == b"\x01"
        for name, mon in self.monitors.items():
            while mon.poll(0):
                event = zmq.utils.monitor.recv_monitor_message(mon)["event"]
                self.dropped[name] += event == zmq.EVENT_DISCONNECTED

    def accept_tasks(self, timeout, after_epoch=0):
        """Waits for a Credit of a tasks connection newer than after_epoch."""
        h.wait_for(lambda: (self.read(), self.epoch > after_epoch)[1], timeout,
                   "a Credit from the worker's tasks connection (epoch > %d)" % after_epoch)

    def accept_control(self, timeout, after=None):
        """Waits for the worker's SUB to subscribe (again, past `after`
        subscriptions)."""
        after = self.subscriptions if after is None else after
        h.wait_for(lambda: (self.read(), self.subscriptions > after)[1], timeout,
                   "the worker's SUB to subscribe")

    def accept_all(self, timeout):
        self.accept_tasks(timeout, self.epoch)
        if self.raw_results:
            self.results.accept(timeout, "the worker's results connection")
        self.accept_control(timeout, 0)

    def send_tasks(self, *frames):
        self.tasks.send_multipart([self.routing_id] + list(frames))

    def send_control(self, *frames):
        self.control.send_multipart(list(frames))

    def _messages(self):
        """The messages (lists of frames) that arrived on results since the
        last call."""
        if not self.raw_results:
            out = []
            while self.results.poll(0):
                out.append(self.results.recv_multipart())
            return out
        out = []
        for conn in self.results.conns:
            conn.poll()
            out += conn.messages[self._seen.get(conn, 0):]
            self._seen[conn] = len(conn.messages)
        return out

    def collect(self):
        """Decodes what arrived on results."""
        self.read()
        for msg in self._messages():
            if len(msg) != 1:
                self.undecodable.append("a %d-part message: %s" % (len(msg), h.short(msg)))
                continue
            try:
                env = self.pb.WorkerToMaster.FromString(msg[0])
            except h.DecodeError as e:
                self.undecodable.append("%s: %s" % (e, h.short(msg)))
                continue
            if env.WhichOneof("body") == "heartbeat":
                self.heartbeats.append(env.heartbeat)
            if env.WhichOneof("body") == "results":
                for r in env.results.results:
                    self.by_key.setdefault((r.job_id, r.seq), []).append(r)

    def close(self):
        if self.raw_results and self.ctx:
            self.results.close()
        if self.ctx:
            self.ctx.destroy(linger=0)


class Session:
    """One worker in front of a FakeMaster, with the probes that prove it
    still works."""

    def __init__(self, env, fm, worker):
        self.env = env
        self.fm = fm
        self.worker = worker
        self.probe_seq = 1000
        self.syncs = 0
        self.tasks_run = 0

    def alive(self, after):
        h.check(self.worker.alive(), "the worker died after %s (status %s)" % (after, self.worker.poll()))

    def probe(self, after):
        """Sends one valid echo task and waits for its result: the worker
        read (and survived) everything sent before it on tasks."""
        self.probe_seq += 1
        seq = self.probe_seq
        text = "probe %d" % seq
        self.fm.send_tasks(batch(task(seq, payload=text)))

        def answered():
            self.fm.collect()
            self.alive(after)
            return (JOB, seq) in self.fm.by_key
        h.wait_for(answered, h.scaled(10), "the result of probe task %d sent after %s" % (seq, after))
        r = self.fm.by_key[(JOB, seq)][0]
        h.check_eq((r.status, r.output), (self.fm.pb.OK, text.encode()), "probe %d result" % seq)
        self.tasks_run += 1

    def control_sync(self, after):
        """Sends a valid JOB_START and waits for the worker to log it: every
        control message sent before it was handled."""
        self.syncs += 1
        job = "sync-%d" % self.syncs
        self.fm.send_control(h.control_message(START, job))

        def logged():
            self.alive(after)
            return "job %s started" % job in self.worker.stderr()
        h.wait_for(logged, h.scaled(10), "the worker to log JOB_START %s sent after %s" % (job, after))

    def oversized(self, name):
        """An oversized frame on tasks or control, sent through pyzmq: the
        worker's libzmq closes that connection and dials again."""
        fm = self.fm
        fm.read()
        epoch, subscriptions, dropped = fm.epoch, fm.subscriptions, fm.dropped[name]
        if name == "tasks":
            fm.tasks.send_multipart([fm.routing_id, oversized_frame(name)], copy=False)
        else:
            fm.control.send(oversized_frame(name), copy=False)
        port = fm.tasks_port if name == "tasks" else fm.control_port
        h.wait_for(lambda: (fm.read(), fm.dropped[name] > dropped)[1], h.scaled(10),
                   "the worker to close its connection to port %d after an oversized frame" % port)
        if name == "tasks":
            fm.accept_tasks(h.scaled(10), epoch)
        else:
            fm.accept_control(h.scaled(10), subscriptions)

    def oversized_results(self):
        """An oversized frame header on the worker's results connection
        (hand-written ZMTP): its libzmq closes it and dials again."""
        listener = self.fm.results
        old = listener.current()
        old.send_raw(oversized_header("results"))
        h.wait_for(old.closed_by_peer, h.scaled(10),
                   "the worker to close its connection to port %d after an oversized frame"
                   % listener.port)
        listener.accept(h.scaled(10), "the worker's new results connection")

    def final_batch(self, first_seq=1, count=12, job="final"):
        """Runs a valid job: JOB_START, then two TaskBatch frames; checks the
        Result frames field by field."""
        self.fm.send_control(h.control_message(START, job))
        h.wait_for(lambda: "job %s started" % job in self.worker.stderr(), h.scaled(10),
                   "the worker to log JOB_START %s" % job)
        expect = {}
        tasks = []
        for seq in range(first_seq, first_seq + count):
            kind = ("sha256", "echo", "noop", "sha256-rounds")[seq % 4]
            text = "payload %d \u00e9" % seq
            if kind == "sha256":
                out = hashlib.sha256(text.encode()).hexdigest().encode()
                payload = text
            elif kind == "sha256-rounds":
                digest = hashlib.sha256(text.encode()).digest()
                for _ in range(2):
                    digest = hashlib.sha256(digest).digest()
                out, payload, kind = digest.hex().encode(), "rounds=3;" + text, "sha256"
            elif kind == "echo":
                out, payload = text.encode(), text
            else:
                out, payload = b"", text
            expect[seq] = out
            tasks.append(task(seq, type=kind, payload=payload, job=job, id="f%d" % seq,
                              attempt=2, max_attempts=3))
        half = len(tasks) // 2
        self.fm.send_tasks(batch(*tasks[:half]))
        self.fm.send_tasks(batch(*tasks[half:]))

        def done():
            self.fm.collect()
            self.alive("the final batch")
            return all((job, s) in self.fm.by_key for s in expect)
        h.wait_for(done, h.scaled(15), "results for seqs %d..%d of job %s"
                   % (first_seq, first_seq + count - 1, job))
        for seq, out in expect.items():
            got = self.fm.by_key[(job, seq)]
            h.check_eq(len(got), 1, "number of results for seq %d" % seq)
            r = got[0]
            h.check_eq((r.job_id, r.seq, r.id, r.attempt, r.status, r.output, r.worker_id, r.error),
                       (job, seq, "f%d" % seq, 2, self.fm.pb.OK, out, WORKER_ID, ""),
                       "result of seq %d" % seq)
            h.check(r.duration_us >= 0 and r.start_us > 0, "times of seq %d: %s" % (seq, h.short(r)))
        self.tasks_run += count
        return expect

    def stop(self):
        """SIGTERM: drained, exit 0. Returns (tasks done, frames dropped) from
        the worker's last log line."""
        self.worker.signal(signal.SIGTERM)

        def exited():
            self.fm.collect()
            return self.worker.poll() is not None
        h.wait_for(exited, h.scaled(15), "the worker to exit after SIGTERM")
        h.check_eq(self.worker.rc, 0, "worker exit status after SIGTERM")
        m = re.search(r"stopping \((\d+) tasks done, (\d+) frames dropped\)", self.worker.stderr())
        h.check(m, "the worker's stderr lacks its 'stopping (N tasks done, M frames dropped)' line")
        return int(m.group(1)), int(m.group(2))


def start_session(env, threads=2, raw_results=False):
    fm = FakeMaster(raw_results)
    try:
        fm.bind()
        worker = env.start("worker", [env.worker_bin] + fm.worker_args(threads))
        s = Session(env, fm, worker)
        fm.accept_all(h.scaled(10))
        h.wait_for(lambda: (fm.collect(), fm.heartbeats)[1], h.scaled(5), "a first heartbeat")
    except BaseException:
        fm.close()
        raise
    hb = fm.heartbeats[0]
    h.check_eq((hb.worker_id, hb.threads_total, hb.pid), (WORKER_ID, threads, worker.pid),
               "first heartbeat")
    return s


def check_outcome(s, tasks_done, dropped, expected_drops):
    """What every hostile session ends with: only the probes and the final
    batch ran, each once; the worker's own counts agree."""
    fm = s.fm
    forbidden = sorted(k for k in fm.by_key if k[0] != "final" and not 1000 < k[1] <= s.probe_seq)
    h.check(not forbidden, "tasks from hostile frames ran: %s" % forbidden[:10])
    dups = sorted(k for k, v in fm.by_key.items() if len(v) > 1)
    h.check(not dups, "more than one result for %s" % dups[:10])
    h.check_eq(len(fm.by_key), s.tasks_run, "number of distinct results")
    h.check(not fm.undecodable, "undecodable frames from the worker: %s" % fm.undecodable[:3])
    h.check_eq(tasks_done, s.tasks_run, "tasks done in the worker's last log line")
    h.check_eq(dropped, expected_drops, "frames dropped in the worker's last log line")
    h.check(len(fm.heartbeats) >= 1 and all(hb.worker_id == WORKER_ID for hb in fm.heartbeats),
            "heartbeats with a wrong worker id")


# --------------------------------------------------------------------------
#  Hostile frames: each entry is (kind, [message, ...]); a message is a list
#  of frames and reaches the worker's code, which must drop and count it.
#  Every task in them has a seq from 9000 up: none may ever run.

def random_frames(rng, largest=1 << 20):
    """Random frames of a few sizes, up to largest (what the socket takes)."""
    return [[bytes(rng.getrandbits(8) for _ in range(n))] for n in (1, 2, 7, 64, 1000)] \
        + [[rng.randbytes(largest)]]


def truncations(valid):
    """A serialized message cut short at four places."""
    return [[valid[:cut]] for cut in (1, 3, len(valid) // 2, len(valid) - 1)]


def forged_results(seq, **fields):
    return h.worker_to_master(results=[dict(job_id=JOB, seq=seq, id="r", attempt=1, status=1,
                                            worker_id="evil", **fields)])


def tasks_hostile(rng):
    valid = batch(task(9001), task(9002))
    bomb = h.master_to_worker([{}] * 200000)                        # 200 000 empty tasks
    return [
        ("random bytes", random_frames(rng)),
        ("an empty frame", [[b""]]),
        ("truncated protobuf", truncations(valid)),
        ("a valid message of the wrong kind", [
            [forged_results(9003, output=b"forged")],
            [h.worker_to_master(heartbeat=dict(worker_id="evil", threads_total=1))],
            [h.control_message(SHUTDOWN)],
            [h.worker_to_master()],                                     # version, no body
        ]),
        ("a wrong protocol version", [[batch(task(9004), version=2)], [batch(task(9005), version=0)],
                                      [batch(task(9006), version=7)]]),
        ("fields out of range", [
            [batch(task(0))], [batch(task(9007, type=""))], [batch(task(9008, attempt=0))],
            [batch(task(9009, attempt=3, max_attempts=2))], [batch(task(9010, job="x" * 65))],
            [batch(task(9011, job=""))], [batch(task(9012, id="i" * 1025))], [batch()],
            [batch(task(9013), task(0))],                   # one bad task spoils the frame
        ]),
        ("an allocation bomb", [[bomb]]),
        ("a multi-part message", [[valid, valid], [batch(task(9014)), b""], [b"", valid, b"x"]]),
    ]


def control_hostile(rng):
    valid = h.control_message(SHUTDOWN, JOB)
    return [
        ("random bytes", random_frames(rng, max_frame_bytes(LIMITS["control"]))),
        ("an empty frame", [[b""]]),
        ("truncated protobuf", truncations(valid)),
        ("a valid message of the wrong kind", [
            [batch(task(9020))],
            [forged_results(9021)],
            [h.worker_to_master()],
        ]),
        ("a wrong protocol version", [[h.control_message(SHUTDOWN, version=2)],
                                      [h.control_message(SHUTDOWN, version=0)],
                                      [h.control_message(DRAIN, version=2)]]),
        ("fields out of range", [[h.control_message(0)], [h.control_message(99)],
                                 [h.control_message(SHUTDOWN, "x" * 65)]]),
        ("a multi-part message", [[valid, valid], [h.control_message(DRAIN), b""]]),
    ]


def test_hostile_frames_at_worker(env):
    rng = random.Random(3)
    s = start_session(env)
    fm = s.fm
    started = time.monotonic()
    s.probe("start-up")
    expected_drops = 0
    kinds = 0
    try:
        for name, send, hostile, check_alive in (
                ("tasks", fm.send_tasks, tasks_hostile, s.probe),
                ("control", fm.send_control, control_hostile, s.control_sync)):
            for kind, messages in hostile(rng):
                for frames in messages:
                    send(*frames)
                expected_drops += len(messages)
                kinds += 1
                check_alive("%s on %s" % (kind, name))
            s.oversized(name)
            check_alive("an oversized frame on %s" % name)
        s.probe("everything on control")
        expect = s.final_batch()
        tasks_done, dropped = s.stop()
    finally:
        fm.close()
    elapsed = time.monotonic() - started

    check_outcome(s, tasks_done, dropped, expected_drops)
    stderr = s.worker.stderr()
    logged = h.log_count(stderr, r"dropped a \S+ frame of \d+ bytes on (tasks|control)")
    h.check(logged >= 1, "the worker logged no dropped frame: %s" % h.short(stderr[-500:]))
    h.check(logged <= 2 + elapsed / 5, "%d drop lines in %.1f s: not rate-limited (once per 5 s)"
            % (logged, elapsed))
    h.check(re.search(r"dropped a \S+ frame of \d+ bytes on tasks", stderr),
            "the first drop line does not name the tasks socket")
    env.note("%d hostile messages of %d kinds + 2 oversized frames; %d dropped (%d log lines), "
             "%d tasks run (%d probes, %d final), %d heartbeats, %d tasks connections, %.1f s"
             % (expected_drops, kinds, dropped, logged, tasks_done, s.probe_seq - 1000, len(expect),
                len(fm.heartbeats), fm.epoch, elapsed))


def test_hostile_frames_at_worker_results(env):
    """Towards the results PUSH socket, which never reads: an oversized
    frame, garbage, a task batch, a multi-part message and a flood past its
    high-water mark, through the hand-written ZMTP server side (no pyzmq
    socket sends to a PUSH). The worker goes on; its code never sees them."""
    rng = random.Random(4)
    s = start_session(env, raw_results=True)
    fm = s.fm
    started = time.monotonic()
    try:
        s.probe("start-up")
        #  An oversized frame first: after a flood past its high-water mark
        #  libzmq stops reading the connection and would never see it.
        s.oversized_results()
        s.probe("an oversized frame on results")
        conn = fm.results.current()
        garbage = random_frames(rng, max_frame_bytes(LIMITS["results"])) \
            + [[batch(task(9030))], [b"a", b"b"]]
        for frames in garbage:
            conn.send(*frames)
        for i in range(3000):
            conn.send(b"flood %d" % i)
        s.probe("garbage and a flood of 3000 frames on results")
        h.check(not conn.closed_by_peer(), "the worker closed its results connection after the flood")
        expect = s.final_batch()
        tasks_done, dropped = s.stop()
    finally:
        fm.close()
    check_outcome(s, tasks_done, dropped, 0)
    env.note("an oversized frame, %d garbage frames and a flood of 3000 on results; %d tasks run "
             "(%d probes, %d final), %d heartbeats, %d results connections, %.1f s"
             % (len(garbage), tasks_done, s.probe_seq - 1000, len(expect),
                len(fm.heartbeats), len(fm.results.conns), time.monotonic() - started))


def test_frames_of_a_replaced_job_do_not_run(env):
    """A frame of a job that a newer JOB_START replaced comes from a master
    that is gone (left in the socket, or from its last moments): the worker
    drops it instead of running it and making that job current again."""
    s = start_session(env)
    fm = s.fm
    try:
        s.probe("start-up")                                     # job-w is current
        s.control_sync("job-w's tasks")                         # sync-1 replaces it
        fm.send_tasks(batch(task(9100, payload="stale")))
        fm.send_tasks(batch(task(9101, payload="current", job="sync-1")))

        def current_ran():
            fm.collect()
            s.alive("a frame of a replaced job")
            return ("sync-1", 9101) in fm.by_key
        h.wait_for(current_ran, h.scaled(10), "the current job's task sent after the stale one")
        s.tasks_run += 1
        tasks_done, _ = s.stop()
    finally:
        fm.close()
    h.check((JOB, 9100) not in fm.by_key, "the task of the replaced job ran")
    h.check_eq(tasks_done, s.tasks_run, "tasks done in the worker's last log line")
    h.check(re.search(r"dropped 1 task frames of jobs a newer one replaced", s.worker.stderr()),
            "the worker did not report the stale frame it dropped")
    h.check("job job-w started" in s.worker.stderr() and
            s.worker.stderr().count("job job-w started") == 1,
            "the stale frame made the replaced job current again")


# --------------------------------------------------------------------------
#  The transport level

def broken_handshakes(rng):
    """(what, fn(listener, raw socket)) applied to a freshly accepted
    connection; each ends with the worker dropping it."""
    def close_at_once(listener, raw):
        pass

    def garbage_greeting(listener, raw):
        raw.sendall(b"\x00" + bytes(rng.getrandbits(8) for _ in range(300)))

    def curve(listener, raw):
        raw.sendall(h.zmtp_greeting(mechanism=b"CURVE"))
        raw.settimeout(h.scaled(5))
        try:
            raw.recv(64)
        except OSError:
            pass

    def wrong_type(listener, raw):
        wrong = {b"ROUTER": b"PULL", b"PULL": b"PULL", b"PUB": b"SUB"}[listener.socket_type]
        try:
            h.ZmtpServerConn(raw, wrong, h.scaled(5))
        except h.TestFailure:
            pass

    def half_handshake(listener, raw):
        raw.sendall(h._zmtp_server_greeting()[:20])

    def raw_bytes(listener, raw):
        conn = h.ZmtpServerConn(raw, listener.socket_type, h.scaled(5), listener.expect_peer)
        conn.send_raw(bytes(rng.getrandbits(8) for _ in range(4096)))

    return [("a connection closed at accept", close_at_once), ("garbage instead of a greeting", garbage_greeting),
            ("the CURVE mechanism", curve), ("an incompatible socket type", wrong_type),
            ("a close in mid-greeting", half_handshake), ("random bytes after the handshake", raw_bytes)]


def test_broken_handshakes_at_worker(env):
    rng = random.Random(5)
    fm = FakeMaster()
    listeners = (h.ZmtpListener(b"ROUTER", expect_peer=b"DEALER", port=fm.tasks_port),
                 h.ZmtpListener(b"PULL", expect_peer=b"PUSH", port=fm.results_port),
                 h.ZmtpListener(b"PUB", expect_peer=b"SUB", port=fm.control_port))
    started = time.monotonic()
    try:
        worker = env.start("worker", [env.worker_bin] + fm.worker_args())
        cases = broken_handshakes(rng)
        for what, fn in cases:
            for listener in listeners:
                raw = listener.accept_raw(h.scaled(10), "the worker to dial port %d (before %s)"
                                          % (listener.port, what))
                fn(listener, raw)
                h._reset_close(raw)
            h.check(worker.alive(), "the worker died after %s (status %s)" % (what, worker.poll()))
        #  Then the real sockets on the same ports: the worker dials again.
        for listener in listeners:
            listener.close()
        fm.bind()
        fm.accept_all(h.scaled(10))
        s = Session(env, fm, worker)
        s.probe("every broken handshake")
        expect = s.final_batch()
        tasks_done, dropped = s.stop()
    finally:
        for listener in listeners:
            listener.close()
        fm.close()
    h.check(not fm.undecodable, "undecodable frames from the worker: %s" % fm.undecodable[:3])
    env.note("%d broken handshakes on each of 3 ports, then %d tasks run; %d frames dropped "
             "(from raw bytes), %.1f s" % (len(cases), tasks_done, dropped, time.monotonic() - started))
    h.check_eq(tasks_done, 1 + len(expect), "tasks done in the worker's last log line")


if __name__ == "__main__":
    h.main([test_hostile_frames_at_worker, test_hostile_frames_at_worker_results,
            test_frames_of_a_replaced_job_do_not_run, test_broken_handshakes_at_worker], __doc__)

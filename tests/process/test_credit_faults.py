#!/usr/bin/env python3
"""Faults around credit dispatch (DESIGN.md, "Why the tasks socket is
ROUTER/DEALER", "Dispatch and failover", "Wire protocol").

Credit puts trust in whoever speaks on the tasks and results sockets: the
master sends a peer as many tasks as it asked for, and charges or frees
tasks on what heartbeats say. These tests check that the trust is bounded:
a peer that dies, a peer that never answers, a peer that lies and a peer
that sends rubbish cost the job nothing but time, and never a result.
Every test checks every seq exactly once in the results file, no task
failed and master exit status 0, and besides:

(1) test_workers_killed_and_restarted: four workers (2 threads,
    --heartbeat 200) on a 20 000-task sha256 job; every 300 ms for 5 s the
    next worker in turn is SIGKILLed and restarted with the same --id (a
    new incarnation of a known worker id). The reissued/retries counts are
    printed.
(2) test_stray_dealer_gets_nothing_back: a pyzmq DEALER with a routing id of
    its own sends one valid Credit (50) into a running job and then never
    reads and never heartbeats. It gets at most its window once; when the
    master finds it silent (--worker-timeout 1000), the tasks it holds go
    to the real workers free of charge (retries 0); a second Credit sent
    after it was declared lost brings it nothing more. Its frames are read
    at the end: at most 50 tasks in all, and exactly what the master's
    "worker lost: stray" line says it sent again.
(3) test_forged_heartbeats_charge_nothing: while 8 sleep tasks of 1.5 s run
    on two real workers, a pyzmq PUSH on the results port sends heartbeats
    from unknown worker ids and incarnations that list seqs 1-8 as held and
    running: three with threads_total 2**32-1 (the decoder rejects them:
    threads_total is bounded) and three valid ones, then falls silent for
    longer than --worker-timeout. Nothing is charged: every result has
    attempts 1 and the summary retries 0.
(4) test_queued_tasks_do_not_expire: 2 000 sleep tasks of 10 ms on 2 x 4
    threads with a 0.5 s lease (--timeout 300 --lease-grace 200) while the
    job takes about 2.5 s: no lease expires and nothing is retried, since a
    task waits in the master's queue without a lease, and at a worker it is
    listed in that worker's heartbeats.
(5) test_hostile_frames_on_tasks_router: while a small job runs on one real
    worker, pyzmq DEALERs send the tasks ROUTER a valid Credit without a
    routing id (libzmq names such a peer with a leading zero byte), valid
    Credits under a too short and a non-printable routing id, and, under a
    good routing id, garbage bytes, a 3-part message, a Credit above
    1048576, a Credit of protocol version 2, a results batch and a
    heartbeat (wrong kinds on the tasks socket). None of them receives a
    frame, and the summary's garbage_dropped counts at least the bad
    frames sent.

pyzmq plays the stray and forged peers and protobuf's Python runtime
encodes their messages from proto/taskmill.proto (compiled with protoc into
the test's temp dir); the tests that need them are skipped where either is
missing. Timing knobs: master --worker-timeout 1000, workers --heartbeat
200. Workers are started only once the master has logged that its sockets
are open.
"""

import collections
import hashlib
import importlib.util
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PROTO_DIR = os.path.join(REPO, "proto")

FAST_WORKER = ["--heartbeat", "200"]

#  x86_64 and aarch64 numbers of clock_nanosleep, the sleep handler's call.
CLOCK_NANOSLEEP = {"x86_64": 230, "aarch64": 115}.get(os.uname().machine)


# --------------------------------------------------------------------------
#  Helpers: processes and logs

def start_master_ready(env, ports, job_path, **kw):
    """Starts the master and waits for its "job ID: tasks on ..." line (its
    sockets are bound and its connection monitor attached; workers started
    before that may never be counted, see tests/process/test_faults.py)."""
    master = env.start_master(ports, job_path, **kw)
    h.wait_for(lambda: re.search(r"job \w+: tasks on ", master.stderr()) or (
        not master.alive() and h.fail("the master exited (status %s) at start" % master.poll())),
        h.scaled(10), "the master to log that its sockets are open (\"job ID: tasks on ...\")")
    return master


def job_id_of(master):
    m = re.search(r"job (\w+): tasks on ", master.stderr())
    h.check(m, "the master did not log its job id")
    return m.group(1)


def wait_joined(master, worker_ids, timeout=10):
    def joined():
        if not master.alive():
            h.fail("the master exited (status %s) before the workers joined" % master.poll())
        log = master.stderr()
        return all("worker joined: %s " % w in log for w in worker_ids)
    h.wait_for(joined, h.scaled(timeout), "the master to log \"worker joined\" for %s" % worker_ids)


def lost_lines(master, worker_id):
    """(tasks sent again, of them charged) of each "worker lost: ID" line."""
    pat = re.compile(r"worker lost: %s \([^)]*\), (\d+) tasks sent again, (\d+) of them charged"
                     % re.escape(worker_id))
    return [(int(m.group(1)), int(m.group(2)))
            for m in (pat.search(l) for l in master.stderr().splitlines()) if m]


def kill_worker(p):
    """SIGKILL a worker (and its process group) and reap it."""
    p.signal(signal.SIGKILL)
    p.kill_group()
    rc = p.wait_exit(h.scaled(10), "%s after SIGKILL" % p.name)
    h.check_eq(rc, -signal.SIGKILL, "exit status of %s after SIGKILL" % p.name)


def sleeping_threads(pid):
    """Threads of pid in clock_nanosleep (running a sleep task); None if
    /proc/PID/task/TID/syscall cannot be read here."""
    if CLOCK_NANOSLEEP is None:
        return None
    n = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                fields = f.read().split()
        except OSError:
            return None
        if fields and fields[0].lstrip("-").isdigit() and int(fields[0]) == CLOCK_NANOSLEEP:
            n += 1
    return n


def check_all_ok(results, n):
    by_seq = h.check_exactly_once(results, n)
    for r in results:
        h.check_eq(r["status"], "ok", "status of seq %s (%s)" % (r.get("seq"), h.short(r)))
    return by_seq


def counters(summary):
    keys = ("retries", "reissued", "leases_expired", "duplicates_dropped", "garbage_dropped")
    return " ".join("%s %s" % (k, summary.get(k, "?")) for k in keys)


# --------------------------------------------------------------------------
#  Helpers: pyzmq, protobuf and the kernel's view of our connections

def need_zmq():
    try:
        import zmq
    except ImportError:
        raise h.TestSkip("pyzmq is not importable (Debian: python3-zmq)")
    return zmq


_pb = None


def load_pb(env):
    """taskmill_pb2, compiled from proto/taskmill.proto with protoc into the
    test's temp dir (once per run: the protobuf runtime registers a .proto
    file once per process)."""
    global _pb
    if _pb is not None:
        return _pb
    try:
        found = importlib.util.find_spec("google.protobuf") is not None
    except ImportError:
        found = False
    if not found:
        raise h.TestSkip("the protobuf Python runtime is not importable (Debian: python3-protobuf)")
    out = env.path("pb")
    os.makedirs(out, exist_ok=True)
    try:
        run = subprocess.run(["protoc", "--python_out=" + out, "-I", PROTO_DIR,
                              os.path.join(PROTO_DIR, "taskmill.proto")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except FileNotFoundError:
        raise h.TestSkip("protoc is not installed (Debian: protobuf-compiler)")
    h.check(run.returncode == 0, "protoc failed on proto/taskmill.proto: %s"
            % run.stdout.decode("utf-8", "replace").strip())
    spec = importlib.util.spec_from_file_location("taskmill_pb2", os.path.join(out, "taskmill_pb2.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _pb = module
    return module


def credit_frame(pb, worker_id, credit, threads=1, epoch=1, stamp=0, version=None):
    m = pb.WorkerToMaster(version=pb.VERSION_1 if version is None else version)
    m.credit.worker_id = worker_id
    m.credit.credit = credit
    m.credit.threads = threads
    m.credit.epoch = epoch
    m.credit.stamp = stamp
    return m.SerializeToString()


def heartbeat_frame(pb, worker_id, incarnation, job_id, held, running, threads_total,
                    threads_busy, last_batch=1):
    m = pb.WorkerToMaster(version=pb.VERSION_1)
    hb = m.heartbeat
    hb.worker_id = worker_id
    hb.host = "forged"
    hb.pid = 4242
    hb.threads_busy = threads_busy
    hb.threads_total = threads_total
    hb.held_seqs.extend(held)
    hb.running_seqs.extend(running)
    hb.job_id = job_id
    hb.last_batch = last_batch
    hb.incarnation = incarnation
    return m.SerializeToString()


def results_frame(pb, job_id, seq):
    m = pb.WorkerToMaster(version=pb.VERSION_1)
    r = m.results.results.add()
    r.job_id = job_id
    r.seq = seq
    r.id = "forged"
    r.attempt = 1
    r.status = pb.OK
    r.output = b"forged"
    r.worker_id = "hostile"
    return m.SerializeToString()


def incarnation(rng):
    """A routing id as a worker makes one: 16 printable bytes, new each run."""
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(16))


def read_all(sock):
    """Every message waiting on a pyzmq socket (NOBLOCK), as lists of frames."""
    zmq = need_zmq()
    messages = []
    while True:
        try:
            messages.append(sock.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return messages


def count_tasks(pb, messages):
    """(TaskBatch frames, tasks in them, seqs, messages that are not one
    MasterToWorker{tasks} frame) of what a DEALER received."""
    batches = tasks = 0
    seqs = []
    odd = []
    for parts in messages:
        m = pb.MasterToWorker()
        try:
            if len(parts) != 1:
                raise ValueError("%d parts" % len(parts))
            m.ParseFromString(parts[0])
        except Exception:
            odd.append(parts)
            continue
        if m.WhichOneof("body") != "tasks":
            odd.append(parts)
            continue
        batches += 1
        tasks += len(m.tasks.tasks)
        seqs += [t.seq for t in m.tasks.tasks]
    return batches, tasks, seqs, odd


def _tcp_rows():
    """(local (ip, port), remote (ip, port), state, tx_queue, rx_queue) of
    each row of /proc/net/tcp."""
    rows = []
    try:
        with open("/proc/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return rows

    def addr(text):
        ip, port = text.split(":")
        return socket.inet_ntoa(bytes.fromhex(ip)[::-1]), int(port, 16)
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue
        tx, rx = fields[4].split(":")
        rows.append((addr(fields[1]), addr(fields[2]), int(fields[3], 16), int(tx, 16), int(rx, 16)))
    return rows


def wait_delivered(port, timeout, what):
    """Waits until every connection this process holds to 127.0.0.1:port has
    nothing left unsent on our side and nothing unread on the peer's: the
    peer's ZeroMQ I/O thread has read what we sent (pyzmq's I/O threads are
    ours, so /proc/PID/fd names their sockets too)."""
    def delivered():
        ours = h.tcp_connections(os.getpid(), port)
        if not ours:
            return False
        rows = _tcp_rows()
        for local_port, _, tx, _ in ours:
            if tx:
                return False
            for local, remote, state, _, rx in rows:
                if local == (h.HOST, port) and remote == (h.HOST, local_port) and rx:
                    return False
        return True
    h.wait_for(delivered, timeout, what)


# --------------------------------------------------------------------------
#  (1) Workers SIGKILLed and restarted in turn

N_KILL_JOB = 20000
N_KILL_JOB_SANITIZED = 6000     # the sanitizer pass checks memory, not scale
ROUNDS = 4500                   # sha256 rounds: about 5 s fault-free on 2 cores
N_KILL_WORKERS = 4
KILL_EVERY = 0.3
KILL_FOR = 5.0


def sha256_rounds(data, rounds):
    digest = hashlib.sha256(data).digest()
    for _ in range(rounds - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def test_workers_killed_and_restarted(env):
    n = N_KILL_JOB if h.time_scale() == 1 else N_KILL_JOB_SANITIZED
    #  retries 10: a task may be on several killed workers in a row (or in
    #  transit to them: back through its lease); with the default 2 it could
    #  rightly end "failed" by chance. What this test counts is loss.
    job = [{"id": "h%d" % i, "type": "sha256", "payload": "rounds=%d;t%d" % (ROUNDS, i),
            "retries": 10} for i in range(n)]
    job_path = env.write_job("job.jsonl", job)
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    ports = h.Ports()
    t0 = time.monotonic()
    master = start_master_ready(env, ports, job_path, out=out, summary=summary_path,
                                extra=["--worker-timeout", "1000", "--timeout", "2000",
                                       "--lease-grace", "500",
                                       "--min-workers", str(N_KILL_WORKERS)])
    ids = ["k%d" % i for i in range(1, N_KILL_WORKERS + 1)]

    def start(worker_id):
        return env.start_worker(ports, extra=FAST_WORKER + ["--id", worker_id], threads=2,
                                name="worker-" + worker_id)
    workers = [start(w) for w in ids]
    wait_joined(master, ids, timeout=15)
    kills = 0
    t_first = time.monotonic() + KILL_EVERY
    next_kill = t_first
    deadline = t0 + h.scaled(60)
    while master.exited_within(0.02) is None:
        h.check(time.monotonic() < deadline, "the job did not end within %.0f s (%d kills)"
                % (h.scaled(60), kills))
        now = time.monotonic()
        if now < next_kill or now > t_first + KILL_FOR:
            continue
        next_kill += KILL_EVERY
        i = kills % N_KILL_WORKERS
        kill_worker(workers[i])
        kills += 1
        workers[i] = start(ids[i])
    elapsed = time.monotonic() - t0
    rc = master.poll()
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    log = master.stderr()
    env.note("%d tasks, %d kills in %.1f s, job %.1f s; %s; workers declared lost %d (%d by a new "
             "incarnation); max attempts %d"
             % (n, kills, min(elapsed, KILL_FOR), elapsed, counters(summary),
                len(re.findall(r"worker lost: ", log)),
                len(re.findall(r"worker lost: .*replaced by a new incarnation", log)),
                max((r.get("attempts", 0) for r in results), default=0)))
    by_seq = check_all_ok(results, n)
    for seq in range(100, n + 1, 100):
        h.check_eq(h.output_bytes(by_seq[seq]),
                   sha256_rounds(("t%d" % (seq - 1)).encode(), ROUNDS).encode(),
                   "sha256 output of seq %d" % seq)
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    h.check(kills >= 8, "test setup: only %d kills before the job ended (the job is too short for "
            "this machine; raise ROUNDS)" % kills)
    h.check(summary["retries"] + summary["reissued"] > 0,
            "no task was sent again although %d workers were killed" % kills)


# --------------------------------------------------------------------------
#  (2) A DEALER that takes credit and falls silent

N_STRAY_JOB = 3000
STRAY_CREDIT = 50


def test_stray_dealer_gets_nothing_back(env):
    zmq = need_zmq()
    pb = load_pb(env)
    #  The default lease (60 s + 5 s) outlasts the test: only the worker
    #  timeout can bring the stray's tasks back in time.
    job = [{"id": "s%d" % i, "type": "sleep", "payload": "5"} for i in range(N_STRAY_JOB)]
    job_path = env.write_job("job.jsonl", job)
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = start_master_ready(env, ports, job_path, out=out, summary=summary_path,
                                extra=["--worker-timeout", "1000", "--min-workers", "2"])
    for w in ("a", "b"):
        env.start_worker(ports, extra=FAST_WORKER + ["--id", w], threads=2, name="worker-" + w)
    wait_joined(master, ["a", "b"])
    h.wait_for(lambda: h.count_lines(out) >= 1 or (not master.alive() and h.fail(
        "the master exited (status %s) early" % master.poll())), h.scaled(10),
        "the first results to be written")
    ctx = zmq.Context()
    try:
        stray = ctx.socket(zmq.DEALER)
        stray.setsockopt(zmq.LINGER, 0)
        stray.setsockopt(zmq.ROUTING_ID, b"stray-dealer-0001")
        stray.connect(h.Ports.ep(ports.tasks))
        stray.send(credit_frame(pb, "stray", STRAY_CREDIT, threads=4, epoch=1, stamp=1))
        t_credit = time.monotonic()
        wait_joined(master, ["stray"])
        lost = h.wait_for(lambda: lost_lines(master, "stray") or (not master.alive() and h.fail(
            "the master exited (status %s) before it declared the stray lost" % master.poll())),
            h.scaled(10), "the master to log \"worker lost: stray\"")
        t_lost = time.monotonic() - t_credit
        #  Lost: a Credit (even of a new epoch) must not bring it back.
        left = N_STRAY_JOB - h.count_lines(out)
        h.check(master.alive() and left > 0, "test setup: the job ended before the second Credit "
                "was sent (make it longer)")
        stray.send(credit_frame(pb, "stray", STRAY_CREDIT, threads=4, epoch=2, stamp=2))
        wait_delivered(ports.tasks, h.scaled(5), "the master to read the stray's second Credit")
        rc = master.wait_exit(h.scaled(40), "master")
        messages = read_all(stray)
    finally:
        ctx.destroy(linger=0)
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    batches, tasks, seqs, odd = count_tasks(pb, messages)
    env.note("stray: %d frames, %d TaskBatches holding %d tasks (%d distinct); master: \"worker "
             "lost: stray ... %d tasks sent again, %d of them charged\" %.2f s after its Credit; "
             "%d tasks left when the second Credit went; %s"
             % (len(messages), batches, tasks, len(set(seqs)), lost[0][0], lost[0][1], t_lost, left,
                counters(summary)))
    check_all_ok(results, N_STRAY_JOB)
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    h.check(not odd, "the stray received frames that are not TaskBatches: %s" % h.short(odd))
    h.check(tasks <= STRAY_CREDIT, "the stray received %d tasks for a window of %d"
            % (tasks, STRAY_CREDIT))
    h.check(tasks > 0, "test setup: the stray got no task at all (the queue ran dry?)")
    h.check_eq(len(lost), 1, "\"worker lost: stray\" lines")
    h.check_eq(lost[0], (tasks, 0), "(tasks sent again, charged) when the stray was lost, "
               "against the %d tasks it received" % tasks)
    h.check(not any(r["worker"] == "stray" for r in results), "a result names the stray worker")
    h.check_eq(summary["retries"], 0, "summary retries")
    h.check(summary["reissued"] >= tasks, "summary reissued %d < the %d tasks the stray held"
            % (summary["reissued"], tasks))


# --------------------------------------------------------------------------
#  (3) Forged heartbeats

N_FORGED_JOB = 8


def test_forged_heartbeats_charge_nothing(env):
    zmq = need_zmq()
    pb = load_pb(env)
    rng = random.Random(3)
    job = [{"id": "f%d" % i, "type": "sleep", "payload": "1500", "timeout_ms": 15000}
           for i in range(N_FORGED_JOB)]
    job_path = env.write_job("job.jsonl", job)
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = start_master_ready(env, ports, job_path, out=out, summary=summary_path,
                                extra=["--worker-timeout", "1000", "--min-workers", "2"])
    workers = [env.start_worker(ports, extra=FAST_WORKER + ["--id", w], threads=4, name="worker-" + w)
               for w in ("a", "b")]
    wait_joined(master, ["a", "b"])
    job_id = job_id_of(master)
    #  All 8 are leased at once (a 4-thread worker's first window is 8:
    #  its threads and as many again before it has measured a rate, so
    #  one worker may hold them all and run them in two rounds); wait until
    #  at least 4 run.
    if sleeping_threads(workers[0].pid) is not None:
        h.wait_for(lambda: sum(sleeping_threads(w.pid) or 0 for w in workers) >= 4,
                   h.scaled(10), "the workers to run at least 4 sleep tasks")
    seqs = list(range(1, N_FORGED_JOB + 1))
    ctx = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(h.Ports.ep(ports.results))
        for i in range(3):
            push.send(heartbeat_frame(pb, "forged-huge-%d" % i, incarnation(rng), job_id, seqs, seqs,
                                      threads_total=2 ** 32 - 1, threads_busy=N_FORGED_JOB))
        for i in range(3):
            push.send(heartbeat_frame(pb, "forged-%d" % i, incarnation(rng), job_id, seqs, seqs,
                                      threads_total=4, threads_busy=4))
        wait_delivered(ports.results, h.scaled(5), "the master to read the forged heartbeats")
        done_then = h.count_lines(out)
        alive_then = master.alive()
        #  Then silence: the forged ids would be lost after 1 s, before the
        #  1.5 s tasks end, and their "running" seqs charged.
        rc = master.wait_exit(h.scaled(20), "master")
    finally:
        ctx.destroy(linger=0)
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    log = master.stderr()
    env.note("forged heartbeats delivered with %d of %d results written; %s; master: %s"
             % (done_then, N_FORGED_JOB, counters(summary),
                [l.strip() for l in log.splitlines() if "forged" in l or "sink: dropped" in l][:6]))
    h.check(alive_then and done_then < N_FORGED_JOB,
            "test setup: the forged heartbeats arrived after the job ended")
    check_all_ok(results, N_FORGED_JOB)
    for r in results:
        h.check_eq(r["attempts"], 1, "attempts of %s (%s)" % (r["id"], h.short(r)))
        h.check(r["worker"] in ("a", "b"), "a result from a worker that is not ours: %s" % h.short(r))
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    h.check_eq(summary["retries"], 0, "summary retries")
    h.check(summary["garbage_dropped"] >= 3, "summary garbage_dropped %d < the 3 heartbeats with "
            "threads_total 2**32-1" % summary["garbage_dropped"])
    h.check(re.search(r"sink: dropped a invalid frame", log),
            "the master did not log an invalid frame dropped by its sink")
    h.check(not re.search(r"worker (joined|lost): forged", log),
            "the master took a forged heartbeat for a worker: %s"
            % [l for l in log.splitlines() if "forged" in l][:3])


# --------------------------------------------------------------------------
#  (4) Tasks queued for longer than a lease

N_QUEUED_JOB = 2000


def test_queued_tasks_do_not_expire(env):
    job = [{"id": "q%d" % i, "type": "sleep", "payload": "10"} for i in range(N_QUEUED_JOB)]
    job_path = env.write_job("job.jsonl", job)
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    ports = h.Ports()
    t0 = time.monotonic()
    master = start_master_ready(env, ports, job_path, out=out, summary=summary_path,
                                extra=["--timeout", "300", "--lease-grace", "200",
                                       "--min-workers", "2"])
    for w in ("a", "b"):
        env.start_worker(ports, extra=["--id", w], threads=4, name="worker-" + w)
    rc = master.wait_exit(h.scaled(40), "master")
    elapsed = time.monotonic() - t0
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    env.note("job %.1f s against a 0.5 s lease; %s; tasks per worker %s"
             % (elapsed, counters(summary), dict(collections.Counter(r.get("worker") for r in results))))
    check_all_ok(results, N_QUEUED_JOB)
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    h.check_eq(summary["leases_expired"], 0, "summary leases_expired")
    h.check_eq(summary["retries"], 0, "summary retries")
    late = [r for r in results if r["attempts"] != 1]
    h.check(not late, "%d results with attempts != 1, e.g. %s" % (len(late), h.short(late[:3])))
    h.check(summary.get("elapsed_s", 0) > 1.0, "test setup: the job took %.2f s, not more than "
            "twice the 0.5 s lease" % summary.get("elapsed_s", 0))


# --------------------------------------------------------------------------
#  (5) Hostile frames on the tasks ROUTER

N_HOSTILE_JOB = 300


def test_hostile_frames_on_tasks_router(env):
    zmq = need_zmq()
    pb = load_pb(env)
    job = [{"id": "t%d" % i, "type": "sleep", "payload": "10", "timeout_ms": 5000}
           for i in range(N_HOSTILE_JOB)]
    job_path = env.write_job("job.jsonl", job)
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = start_master_ready(env, ports, job_path, out=out, summary=summary_path)
    env.start_worker(ports, extra=FAST_WORKER + ["--id", "real"], threads=2, name="worker-real")
    wait_joined(master, ["real"])
    job_id = job_id_of(master)
    ctx = zmq.Context()
    dealers = {}
    bad = 0
    try:
        def dealer(name, routing_id=None):
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            if routing_id is not None:
                s.setsockopt(zmq.ROUTING_ID, routing_id)
            s.connect(h.Ports.ep(ports.tasks))
            dealers[name] = s
            return s
        #  Valid Credits under routing ids the master must not take.
        dealer("no routing id").send(credit_frame(pb, "anonymous", 50))
        dealer("short routing id", b"short").send(credit_frame(pb, "short", 50))
        dealer("non-printable routing id", b"with space\x01\x7f").send(credit_frame(pb, "np", 50))
        bad += 3
        #  Bad frames under a routing id it would take.
        hostile = dealer("hostile", b"hostile-dealer-0001")
        hostile.send(b"\xff\x07" + bytes(random.Random(5).getrandbits(8) for _ in range(62)))
        hostile.send_multipart([credit_frame(pb, "hostile", 50), b"two", b"three"])
        hostile.send(credit_frame(pb, "hostile", 1048577))
        hostile.send(credit_frame(pb, "hostile", 50, version=2))
        hostile.send(results_frame(pb, job_id, 1))
        hostile.send(heartbeat_frame(pb, "hostile", "hostile-dealer-0001", job_id, [1], [1], 1, 1))
        bad += 6
        wait_delivered(ports.tasks, h.scaled(5), "the master to read the hostile frames")
        h.wait_for(lambda: "tasks socket: dropped a frame" in master.stderr(), h.scaled(5),
                   "the master to log a dropped tasks-socket frame")
        done_then = h.count_lines(out)
        alive_then = master.alive()
        rc = master.wait_exit(h.scaled(30), "master")
        received = {name: read_all(s) for name, s in dealers.items()}
    finally:
        ctx.destroy(linger=0)
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    log = master.stderr()
    reasons = collections.Counter(m.group(1) for m in re.finditer(
        r"tasks socket: dropped a frame \(([^;]*);", log))
    env.note("%d bad frames sent with %d of %d results written; %s; logged drop reasons %s"
             % (bad, done_then, N_HOSTILE_JOB, counters(summary), dict(reasons)))
    h.check(alive_then and done_then < N_HOSTILE_JOB,
            "test setup: the hostile frames arrived after the job ended")
    check_all_ok(results, N_HOSTILE_JOB)
    for r in results:
        h.check_eq(r["worker"], "real", "worker of seq %d" % r["seq"])
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    for name, messages in received.items():
        h.check(not messages, "the DEALER with %s received %d messages, e.g. %s"
                % (name, len(messages), h.short(messages[:2])))
    h.check(summary["garbage_dropped"] >= bad, "summary garbage_dropped %d < %d bad frames sent"
            % (summary["garbage_dropped"], bad))
    h.check(not re.search(r"worker joined: (anonymous|short|np|hostile)", log),
            "the master took a hostile DEALER for a worker: %s"
            % [l for l in log.splitlines() if "worker joined" in l])


if __name__ == "__main__":
    h.main([test_workers_killed_and_restarted, test_stray_dealer_gets_nothing_back,
            test_forged_heartbeats_charge_nothing, test_queued_tasks_do_not_expire,
            test_hostile_frames_on_tasks_router], __doc__)

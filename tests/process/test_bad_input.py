#!/usr/bin/env python3
"""Bad input, bad usage and hostile peers.

- a malformed job line: exit 2, stderr names "line N", no results written;
- with --skip-invalid, every kind of malformed line (over-long and binary
  ones included) is skipped and named on stderr, the valid lines run with
  seqs in reading order, the summary counts the skipped lines and the exit
  status is 1; from a file and from stdin; many bad lines are rate-limited;
- empty inputs (empty file, only blank lines, empty stdin): exit 2, with or
  without --skip-invalid;
- unknown options, missing or bad option values: exit 2 (both binaries);
- --help: exit 0 with the usage on stdout (both binaries);
- a port already in use: exit 3, for each of the four master sockets;
- garbage on every master port (raw TCP bytes and broken ZMTP handshakes
  from raw sockets, an incompatible socket type from pyzmq; then, from a
  pyzmq PUSH, malformed, truncated, wrong-version, stale and 6 MiB frames
  built from taskmill_pb2 messages, and from a hand-written ZMTP client a
  frame header claiming 2 TiB): the master keeps running, a normal job then
  completes correctly, nothing forged gets into the results, and the summary
  counts the dropped frames;
- the framed garbage alone, sent before any worker connects.
"""

import collections
import hashlib
import itertools
import os
import random
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

zmq = h.zmq

GOOD = '{"id": "g%d", "type": "echo", "payload": "fine %d"}'


def good(i):
    return GOOD % (i, i)


def names_line(stderr, n):
    return re.search(r"\bline\s*:?\s*%d\b" % n, stderr, re.I) is not None


def check_no_results(path, what):
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
        h.check(data.strip() == b"", "%s: results were written: %s" % (what, h.short(data[:300])))


MALFORMED = [
    #  (description, lines, bad line number)
    ("invalid JSON", [good(1), good(2), '{"id": "x3", "type": "echo", "payload": ', good(4), good(5)], 3),
    ("blank line before the bad one", [good(1), "", "{not json at all}", good(4)], 3),
    ("not an object", [good(1), "[1, 2, 3]", good(3)], 2),
    ("type not a string", [good(1), good(2), good(3), '{"id": "x4", "type": 7, "payload": "p"}', good(5)], 4),
    ("invalid payload_b64", [good(1), '{"id": "x2", "type": "echo", "payload_b64": "!!not base64!!"}'], 2),
    ("timeout_ms not a number", [good(1), good(2), good(3), good(4),
                                 '{"id": "x5", "type": "sleep", "payload": "1", "timeout_ms": "soon"}'], 5),
    ("trailing garbage", [good(1), good(2), '{"id": "x3", "type": "echo", "payload": "p"} trailing'], 3),
    ("line longer than the 4 MiB limit", [good(1), '{"id": "x2", "type": "echo", "payload": "%s"}'
                                          % ("a" * (5 * 1024 * 1024)), good(3)], 2),
]


def test_malformed_job_line(env):
    ports = h.Ports()
    #  A worker is connected, so that anything dispatched would show up.
    worker = env.start_worker(ports, threads=2)
    for k, (what, lines, bad) in enumerate(MALFORMED):
        job = env.write_job("bad%d.jsonl" % k, lines)
        out = env.path("bad%d-results.jsonl" % k)
        m = env.start_master(ports, job, out=out, name="master-bad%d" % k)
        rc = m.wait_exit(h.scaled(15), "master given a job with %s" % what)
        h.check_eq(rc, 2, "exit status for a job with %s at line %d" % (what, bad))
        h.check(names_line(m.stderr(), bad), "stderr does not name line %d for %s: %s"
                % (bad, what, h.short(m.stderr()[-500:])))
        check_no_results(out, what)
    h.check(worker.alive(), "the worker exited (status %s)" % worker.poll())


#  (line, ok) for a job mixing valid lines and every kind of malformed line.
SKIP_JOB = [
    (good(1), True),
    ('{"id": "x2", "type": "echo", "payload": ', False),                   # invalid JSON
    (good(3), True),
    ("", True),                                                             # blank: not a task, not invalid
    ("[1, 2, 3]", False),                                                   # not an object
    ('{"id": "x6", "type": 7, "payload": "p"}', False),                     # type not a string
    (good(7), True),
    ('{"id": "x8", "type": "echo", "payload_b64": "!!not base64!!"}', False),
    ('{"id": "x9", "type": "sleep", "payload": "1", "timeout_ms": "soon"}', False),
    ('{"id": "x10", "type": "echo", "payload": "p"} trailing', False),
    ('{"id": "x11", "payload": "no type and no --type"}', False),
    ('{"id": "x12", "type": "echo", "payload": "p", "colour": "red"}', False),  # unknown field
    (good(13), True),
    ('{"id": "x14", "type": "echo", "payload": "%s"}' % ("a" * (5 * 1024 * 1024)), False),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x1b[31m\xff\xfe\x00\x00", False),    # binary
    ('{"id": "x16", "type": "echo", "payload": "a", "payload": "b"}', False),   # duplicate key
    (good(17), True),
]


def write_bytes_job(env, name, lines):
    path = env.path(name)
    with open(path, "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode())
            f.write(b"\n")
    return path


def skipped_lines_named(stderr):
    """The line numbers the master's stderr reports as skipped."""
    return [int(n) for n in re.findall(r"\bline (\d+): .*: skipped \(\d+ so far\)", stderr)]


def check_skip_run(master, out, summary_path, valid, bad, what):
    """A --skip-invalid run: the valid lines (numbers, each a good() line)
    ran once each with seqs in reading order, the bad ones were named."""
    rc = master.wait_exit(h.scaled(30), "master with --skip-invalid, %s" % what)
    results = h.read_results(out)
    by_seq = h.check_exactly_once(results, len(valid))
    for seq, n in enumerate(valid, 1):
        r = by_seq[seq]
        h.check_result_shape(r)
        h.check_eq((r["id"], r["status"], h.output_bytes(r)), ("g%d" % n, "ok", b"fine %d" % n),
                   "%s: result of seq %d (line %d)" % (what, seq, n))
    h.check_eq(rc, 1, "%s: exit status with skipped lines and every task ok" % what)
    stderr = master.stderr()
    control = re.search(r"[\x00-\x08\x0b-\x1f\x7f]", stderr)
    h.check(not control, "%s: a control byte of the binary line reached stderr: %s"
            % (what, h.short(control and stderr[control.start() - 80:control.end() + 20])))
    h.check_eq(sorted(skipped_lines_named(stderr)), bad, "%s: lines named as skipped on stderr" % what)
    h.check(re.search(r"\b%d invalid lines skipped in all" % len(bad), stderr),
            "%s: no total of skipped lines on stderr: %s" % (what, h.short(stderr[-500:])))
    summary = h.read_summary(summary_path)
    h.check_summary(summary, results, exit_status=1)
    h.check_eq(summary.get("invalid_skipped"), len(bad), "%s: summary invalid_skipped" % what)


def test_skip_invalid(env):
    ports = h.Ports()
    worker = env.start_worker(ports, threads=2)
    lines = [line for line, _ in SKIP_JOB]
    valid = [n for n, (line, ok) in enumerate(SKIP_JOB, 1) if ok and line]
    bad = [n for n, (_, ok) in enumerate(SKIP_JOB, 1) if not ok]
    job = write_bytes_job(env, "mixed.jsonl", lines)

    out, summary = env.path("skip-results.jsonl"), env.path("skip-summary.json")
    m = env.start_master(ports, job, out=out, summary=summary, extra=["--skip-invalid"],
                         name="master-skip")
    check_skip_run(m, out, summary, valid, bad, "job file")

    #  Standard input is read once, through the same reader.
    out, summary = env.path("stdin-results.jsonl"), env.path("stdin-summary.json")
    data = b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines)
    m = env.start_master(ports, "-", out=out, summary=summary, extra=["--skip-invalid"],
                         stdin_data=data, name="master-skip-stdin")
    check_skip_run(m, out, summary, valid, bad, "stdin")

    #  Without the flag the same job fails before any task runs.
    out = env.path("strict-results.jsonl")
    m = env.start_master(ports, job, out=out, name="master-strict")
    rc = m.wait_exit(h.scaled(15), "master given the mixed job without --skip-invalid")
    h.check_eq(rc, 2, "exit status without --skip-invalid")
    h.check(names_line(m.stderr(), bad[0]), "stderr does not name line %d: %s"
            % (bad[0], h.short(m.stderr()[-500:])))
    check_no_results(out, "the mixed job without --skip-invalid")

    #  Many bad lines: the first 20 are named, then the rate limit holds.
    many = [good(1)] + ["[%d]" % n for n in range(2, 62)] + [good(62)]
    job = env.write_job("many-bad.jsonl", many)
    out, summary_path = env.path("many-results.jsonl"), env.path("many-summary.json")
    m = env.start_master(ports, job, out=out, summary=summary_path, extra=["--skip-invalid"],
                         name="master-many-bad")
    rc = m.wait_exit(h.scaled(30), "master given 60 bad lines with --skip-invalid")
    h.check_eq(rc, 1, "exit status with 60 skipped lines")
    h.check_eq(len(h.read_results(out)), 2, "result lines of a job with 2 valid lines")
    named = skipped_lines_named(m.stderr())
    h.check(set(range(2, 22)) <= set(named), "the first 20 bad lines are not all named: %s" % named)
    h.check(len(named) <= 25, "%d skipped lines named: the rate limit did not hold" % len(named))
    h.check(re.search(r"\b60 invalid lines skipped in all", m.stderr()), "no total of 60 on stderr")
    h.check_eq(h.read_summary(summary_path).get("invalid_skipped"), 60, "summary invalid_skipped")
    h.check(worker.alive(), "the worker exited (status %s)" % worker.poll())


def test_empty_inputs(env):
    ports = h.Ports()
    cases = [("empty file", env.write_job("empty.jsonl", []), None),
             ("only blank lines", env.write_job("blank.jsonl", ["", "   ", ""]), None),
             ("empty stdin", "-", b"")]
    for (what, job, stdin), flags in itertools.product(cases, ([], ["--skip-invalid"])):
        what += " " + " ".join(flags)
        out = env.path("results.jsonl")
        m = env.start_master(ports, job, out=out, stdin_data=stdin, extra=flags, name="master-empty")
        rc = m.wait_exit(h.scaled(15), "master given %s" % what)
        h.check_eq(rc, 2, "exit status for %s" % what)
        check_no_results(out, what)
    m = env.start_master(ports, env.path("no-such-file.jsonl"), name="master-missing")
    rc = m.wait_exit(h.scaled(15), "master given a missing job file")
    h.check(rc in (2, 3), "exit status for a missing job file: %s, expected 2 (or 3)" % rc)
    h.check(m.stderr().strip(), "no message on stderr for a missing job file")


def test_usage_errors(env):
    ports = h.Ports()
    job = env.write_job("job.jsonl", [good(1)])
    master_cases = [
        ("unknown option", [job, "--no-such-option"]),
        ("unknown short option", [job, "-Z"]),
        ("option missing its value", [job, "--out"]),
        ("bad --format", [job, "--format", "xml"]),
        ("bad --timeout", [job, "--timeout", "soon"]),
        ("bad --retries", [job, "--retries", "1x"]),
        ("bad --window", [job, "--window", "many"]),
        ("bad --generate", ["--generate", "lots"]),
        ("--sync under the master's tick", [job, "--sync", "50"]),
        ("bad --retry-backoff", [job, "--retry-backoff", "-1"]),
        ("bad endpoint", [job, "--bind-admin", "not-an-endpoint"]),
    ]
    for what, args in master_cases:
        argv = [env.master_bin] + args
        if what != "bad endpoint":
            argv += ports.master_args()
        else:
            argv += ports.master_args()[:6]
        m = env.run("master-usage", argv, h.scaled(15))
        if what == "bad endpoint":
            #  Bad usage (2), or found out when binding (3); not a crash.
            h.check(m.rc in (2, 3), "master exit status for %s: %s, expected 2 (or 3)" % (what, m.rc))
        else:
            h.check_eq(m.rc, 2, "master exit status for %s (%s)" % (what, " ".join(args)))
        h.check(m.stderr().strip(), "master printed nothing on stderr for %s" % what)
    worker_cases = [
        ("unknown option", ports.worker_args() + ["--no-such-option"]),
        ("no HOST", []),
        ("bad --threads", ports.worker_args() + ["--threads", "abc"]),
        ("bad --heartbeat", ports.worker_args() + ["--heartbeat", "often"]),
        ("option missing its value", ports.worker_args() + ["--id"]),
        ("--queue of 0", ports.worker_args() + ["--queue", "0"]),
    ]
    for what, args in worker_cases:
        w = env.run("worker-usage", [env.worker_bin] + args, h.scaled(15))
        h.check_eq(w.rc, 2, "worker exit status for %s (%s)" % (what, " ".join(args)))
        h.check(w.stderr().strip(), "worker printed nothing on stderr for %s" % what)


def test_help(env):
    for binary, options in ((env.master_bin, ["--out", "--summary", "--bind-tasks"]),
                            (env.worker_bin, ["--threads", "--allow-exec", "--once"])):
        p = env.run("help", [binary, "--help"], h.scaled(15))
        name = os.path.basename(binary)
        h.check_eq(p.rc, 0, "%s --help exit status" % name)
        out = p.stdout()
        h.check(re.search(r"usage", out, re.I), "%s --help: no usage on stdout: %s" % (name, h.short(out)))
        for opt in options:
            h.check(opt in out, "%s --help does not mention %s" % (name, opt))


def master_binds_admin(env, job):
    """Whether this master binds an admin socket at all (it is optional)."""
    ports = h.Ports()
    m = env.start_master(ports, job, out=env.path("probe.jsonl"), name="master-probe")
    for port in (ports.tasks, ports.results, ports.control):
        h.wait_for(lambda: h.is_listening(port) or not m.alive(), h.scaled(10),
                   "the master to listen on port %d" % port)
    h.check(m.alive(), "the master exited early (status %s)" % m.poll())
    listening = h.eventually(lambda: h.is_listening(ports.admin), 0.2)
    m.stop()
    return listening


def test_port_in_use(env):
    job = env.write_job("job.jsonl", [good(1)])
    sockets = ["tasks", "results", "control"]
    if master_binds_admin(env, job):
        sockets.append("admin")
    else:
        env.note("the master does not bind its admin socket: admin port not checked")
    for which in sockets:
        ports = h.Ports()
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        #  A listening socket blocks the master's bind with or without
        #  SO_REUSEADDR; without it our own bind fails on a port that an
        #  earlier test left in TIME_WAIT.
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            blocker.bind((h.HOST, getattr(ports, which)))
            blocker.listen(1)
            out = env.path("results-%s.jsonl" % which)
            m = env.start_master(ports, job, out=out, name="master-busy-" + which)
            rc = m.wait_exit(h.scaled(10), "master whose %s port is taken" % which)
            h.check_eq(rc, 3, "exit status when the %s port is in use" % which)
            h.check(m.stderr().strip(), "no message on stderr when the %s port is in use" % which)
        finally:
            blocker.close()


# --------------------------------------------------------------------------
#  Hostile peers

def garbage_frames(rng):
    """(frames that are certainly garbage, frames that are garbage or stale)."""
    version_only = h.worker_to_master()                               # version 1, no body
    results = h.worker_to_master(results=[dict(job_id="x", seq=1, id="short", attempt=1)])
    certain = [b""]                                                   # version 0
    certain += [b"\xff\x07" + bytes(rng.getrandbits(8) for _ in range(62)) for _ in range(5)]
    certain.append(version_only + b"\x08\xff\xff")                    # a varint that never ends
    certain.append(version_only)
    certain.append(h.worker_to_master(version=2, heartbeat=dict(worker_id="v2-worker")))
    certain.append(results[:-5])                                      # a length past the end
    doubtful = [
        h.worker_to_master(results=[{}]),                             # an all-default result
        h.worker_to_master(results=[dict(job_id="x", seq=1, id="g1", attempt=1, status=99,
                                         worker_id="evil/1")]),       # status out of range
    ]
    return certain, doubtful


def forged_result():
    return h.worker_to_master(results=[dict(
        job_id="bogus-job", seq=1, id="t0", attempt=1, status=1, output=b"forged",
        worker_id="evil/1", duration_us=5)])


def normal_job(n=300):
    """Tasks with a short timeout: a raw TCP peer can pass the tasks socket's
    handshake as a ZMTP 1.0 peer and take tasks into a connection that then
    dies; the master gets those back only when their leases (timeout +
    grace) expire."""
    job, expect = [], {}
    for i in range(n):
        if i % 2:
            text = "hello %d" % i
            job.append({"id": "t%d" % i, "type": "echo", "payload": text, "timeout_ms": 2000})
            expect["t%d" % i] = text.encode()
        else:
            text = "hash me %d" % i
            job.append({"id": "t%d" % i, "type": "sha256", "payload": text, "timeout_ms": 2000})
            expect["t%d" % i] = hashlib.sha256(text.encode()).hexdigest().encode()
    return job, expect


def raw_garbage(ports, rng, held, ctx):
    """Raw bytes and failed ZMTP handshakes on all four ports."""
    for port, wrong_type in ((ports.tasks, zmq.PUSH), (ports.results, zmq.SUB),
                             (ports.control, zmq.PUSH), (ports.admin, zmq.PULL)):
        if port == ports.admin and not h.is_listening(port):
            continue    # the admin socket is optional ("reserved")
        s = h.connect(port)
        s.sendall(bytes(rng.getrandbits(8) for _ in range(4096)))
        s.close()
        s = h.connect(port)      # connect, close at once
        s.close()
        s = h.connect(port)      # wrong mechanism
        s.sendall(h.zmtp_greeting(mechanism=b"CURVE") + bytes(200))
        s.close()
        s = h.connect(port)      # ZMTP 2 style then junk
        s.sendall(h.ZMTP_SIGNATURE + b"\x01\x05junk" + bytes(rng.getrandbits(8) for _ in range(300)))
        s.close()
        wrong = ctx.socket(wrong_type)                                # incompatible socket type
        wrong.setsockopt(zmq.LINGER, 0)
        monitor = wrong.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        wrong.connect(h.Ports.ep(port))
        h.wait_for(lambda: monitor.poll(0), h.scaled(5),
                   "the master to refuse an incompatible socket type on port %d" % port)
        wrong.disable_monitor()
        monitor.close()
        wrong.close()
        s = h.connect(port)      # half a greeting, held open
        s.sendall(b"\xff\x00\x00")
        held.append(s)


def run_job_after_hostility(env, ports, master, out, summary_path, expect, n):
    h.check(master.alive(), "the master died from the hostile input (status %s)" % master.poll())
    workers = [env.start_worker(ports, extra=["--id", "good-%d" % i], threads=2) for i in (1, 2)]
    rc = master.wait_exit(h.scaled(40), "master after the hostile input")
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    for r in results:
        h.check_result_shape(r)
        h.check(r["worker"] in ("good-1", "good-2"), "a result from a worker that is not ours: %s"
                % h.short(r))
        h.check_eq((r["status"], h.output_bytes(r)), ("ok", expect[r["id"]]), "result of %s" % r["id"])
    h.check_eq(rc, 0, "master exit status")
    summary = h.read_summary(summary_path)
    h.check_summary(summary, results, exit_status=0)
    return summary, workers


def test_garbage_on_every_port(env):
    rng = random.Random(7)
    job, expect = normal_job()
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out, summary=summary_path)
    for port in (ports.tasks, ports.results, ports.control):
        h.wait_for(lambda: h.is_listening(port) or not master.alive(), h.scaled(10),
                   "the master to listen on port %d" % port)
    h.check(master.alive(), "master exited early (status %s)" % master.poll())
    if not h.is_listening(ports.admin):
        env.note("the master does not listen on its admin port: no garbage sent there")
    held = []
    ctx = zmq.Context()
    try:
        raw_garbage(ports, rng, held, ctx)
        h.check(master.alive(), "the master died from raw garbage (status %s)" % master.poll())

        #  Well-framed garbage on the results socket, from a pyzmq PUSH kept
        #  connected to the end.
        certain, doubtful = garbage_frames(rng)
        pusher = ctx.socket(zmq.PUSH)
        pusher.setsockopt(zmq.LINGER, 0)
        pusher.connect(h.Ports.ep(ports.results))
        for frame in certain + doubtful:
            pusher.send(frame)
        pusher.send(forged_result())
        h.zmq_send_tracked(pusher, [b"\xff\x07part one", b"\xff\x07part two"],   # a two-frame message
                           h.scaled(10))
        h.wait_delivered(ports.results, h.scaled(10), "the master to read what was sent to it")
        h.check(master.alive(), "the master died from malformed frames (status %s)" % master.poll())

        #  A frame header claiming 2 TiB (hand-written ZMTP: pyzmq sends a
        #  frame with its body), and a 6 MiB junk frame: the master must
        #  neither allocate that nor die.
        huge = h.ZmtpPeer(ports.results, b"PUSH")
        big = ctx.socket(zmq.PUSH)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(h.Ports.ep(ports.results))
        try:
            huge.send_raw(b"\x02" + (2 ** 41).to_bytes(8, "big") + b"\xff\x07" * 512)
        except OSError:
            pass        # reset by the master: fine
        h.zmq_send_tracked(big, [b"\xff\x07" + bytes(6 * 1024 * 1024)], h.scaled(10))
        closed = h.eventually(huge.closed_by_peer, h.scaled(5))
        env.note("2 TiB frame header: connection %s by the master"
                 % ("closed" if closed else "left open"))
        huge.close()
        h.wait_delivered(ports.results, h.scaled(10), "the master to read the 6 MiB frame")
        h.check(master.alive(), "the master died from an oversized frame (status %s)" % master.poll())

        summary, _ = run_job_after_hostility(env, ports, master, out, summary_path, expect, len(job))
        for r in h.read_results(out):
            h.check(h.output_bytes(r) != b"forged", "the forged result was accepted: %s" % h.short(r))
        results = h.read_results(out)
        seqs = collections.Counter(r["seq"] for r in results)
        #  The fault tests' one-line count (tests/process/test_faults.py).
        env.note("attempted %d completed %d lost %d duplicates_dropped %s unexpected %d reissued %d "
                 "faults %d (framed hostile messages; raw garbage besides) garbage_dropped %s "
                 "stale_dropped %s"
                 % (len(job), len(seqs), sum(1 for s in range(1, len(job) + 1) if s not in seqs),
                    summary["duplicates_dropped"],
                    sum(c - 1 for c in seqs.values()) + sum(1 for s in seqs if not 1 <= s <= len(job)),
                    summary["retries"] + summary["reissued"], len(certain) + len(doubtful) + 4,
                    summary["garbage_dropped"], summary["stale_dropped"]))
        h.check(summary["garbage_dropped"] >= len(certain),
                "summary garbage_dropped %d < %d malformed frames sent"
                % (summary["garbage_dropped"], len(certain)))
        dropped = summary["garbage_dropped"] + summary["stale_dropped"]
        h.check(dropped >= len(certain) + len(doubtful) + 1,
                "garbage_dropped + stale_dropped = %d < %d bad or stale frames sent"
                % (dropped, len(certain) + len(doubtful) + 1))
    finally:
        for s in held:
            s.close()
        ctx.destroy(linger=0)


def test_hostile_frames_pyzmq(env):
    rng = random.Random(11)
    job, expect = normal_job(100)
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out, summary=summary_path)
    h.wait_for(lambda: h.is_listening(ports.results) or not master.alive(), h.scaled(10),
               "the master to listen on its results port")
    ctx = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.connect(h.Ports.ep(ports.results))
        certain, doubtful = garbage_frames(rng)
        for frame in certain + doubtful:
            push.send(frame)
        push.send(forged_result())
        push.send_multipart([b"\xff\x07a", b"\xff\x07b"])
        push.close()
    finally:
        ctx.term()
    summary, _ = run_job_after_hostility(env, ports, master, out, summary_path, expect, len(job))
    h.check(summary["garbage_dropped"] >= len(certain), "summary garbage_dropped %d < %d"
            % (summary["garbage_dropped"], len(certain)))


if __name__ == "__main__":
    h.main([test_malformed_job_line, test_skip_invalid, test_empty_inputs, test_usage_errors, test_help,
            test_port_in_use, test_garbage_on_every_port, test_hostile_frames_pyzmq], __doc__)

#!/usr/bin/env python3
"""CURVE (DESIGN.md, "Security"): only who belongs gets in.

Keys come from `taskmill keygen`; the master gets --cert and --allow, the
workers and the CLI --cert and --server-cert.

(1) An allowed worker completes a job; the master says at start that a
    stranger and a plaintext peer were refused.
(2) A worker whose certificate is not in the directory, and a plaintext
    worker, get no task and nothing of theirs reaches the sink: with only
    them the job does not move (results file empty, status 0 done, no
    worker listed); an allowed worker then completes it, and the summary
    names it alone and counts no dropped frame. The master logs both
    refusals (its tasks socket's monitor sees the failed handshakes).
(3) A worker whose certificate is added to the directory during the run is
    accepted: zauth's certificate store reloads when the directory changes
    (czmq checks its mtime, file count and size at each ZAP request), and
    the worker dials again after the refusal.
(4) The forged-result attack: a pyzmq PUSH with an unlisted CURVE key, and
    one in plaintext, send a valid ResultBatch for seq 1 with the real job
    id (read from `taskmill status --json`): nothing is written. The same
    frame from an allowed key is written (so the frame was a real attack).
(5) The payload bytes are not on the wire: every port greets with the
    CURVE mechanism, and, where tcpdump can capture loopback, a capture of
    the test's own ports holds the payload in a plaintext run and not in a
    CURVE run.
(6) Refusals before anything binds, exit 2: a secret certificate of mode
    0644 (master and worker), two files with one public key in the
    directory, --cert without --allow.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def cli_bin(env):
    path = os.path.join(os.path.dirname(os.path.dirname(env.master_bin)), "cli", "taskmill")
    h.check(os.access(path, os.X_OK), "no taskmill CLI at %s" % path)
    return path


class Keys:
    """A master pair, an allow directory with the public certificates of
    `allowed`, and the secret certificates of every name beside it."""

    def __init__(self, env, allowed=("worker", "operator"), others=("stranger",)):
        self.env = env
        self.dir = env.path("keys")
        self.allow = os.path.join(self.dir, "allow")
        os.makedirs(self.allow)
        for name in ("master",) + tuple(allowed) + tuple(others):
            self.keygen(name)
        for name in allowed:
            self.admit(name)

    def keygen(self, name):
        p = self.env.run("keygen", [cli_bin(self.env), "keygen", os.path.join(self.dir, name)],
                         h.scaled(10))
        h.check_eq(p.poll(), 0, "taskmill keygen %s exit status (%s)" % (name, p.stderr().strip()))

    def admit(self, name):
        shutil.copy(os.path.join(self.dir, name), os.path.join(self.allow, name))

    def secret(self, name):
        return os.path.join(self.dir, name + "_secret")

    def public(self, name):
        return os.path.join(self.dir, name)

    def z85(self, name):
        """(public, secret) Z85 keys of a pair, for pyzmq."""
        keys = {}
        with open(self.secret(name)) as f:
            for line in f:
                key, _, value = line.strip().partition(" = ")
                if key in ("public-key", "secret-key"):
                    keys[key] = value.strip('"').encode()
        return keys["public-key"], keys["secret-key"]

    def master_args(self):
        return ["--cert", self.secret("master"), "--allow", self.allow]

    def client_args(self, name):
        return ["--cert", self.secret(name), "--server-cert", self.public("master")]


def status(env, ports, keys, name="operator"):
    args = [cli_bin(env), "status", "--json", "--admin", h.Ports.ep(ports.admin)]
    if keys:
        args += keys.client_args(name)
    p = env.run("taskmill", args, h.scaled(10))
    h.check_eq(p.poll(), 0, "taskmill status exit status (%s)" % p.stderr().strip())
    return json.loads(p.stdout())


def echo_job(env, n, marker="x"):
    return env.write_job("job.jsonl", [{"id": "e%d" % i, "type": "echo",
                                        "payload": "%s-%d" % (marker, i)} for i in range(n)])


def wait_master_ready(master, ports):
    h.wait_for(lambda: h.is_listening(ports.admin) or not master.alive(), h.scaled(10),
               "the master to listen")
    h.check(master.alive(), "the master exited: %s" % master.stderr()[-500:])
    #  The proof runs after the binds: the start line follows it.
    h.wait_for(lambda: "job " in master.stderr() or not master.alive(), h.scaled(10),
               "the master's start line")
    h.check(master.alive(), "the master exited: %s" % master.stderr()[-500:])


def test_allowed_worker_completes_a_job(env):
    n = 200
    keys, ports = Keys(env), h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, echo_job(env, n), out=out, summary=summary,
                              extra=keys.master_args())
    env.start_worker(ports, extra=["--id", "w1", "--once"] + keys.client_args("worker"))
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    h.check(all(r["status"] == "ok" and r["worker"] == "w1" for r in results),
            "not every result ok from w1: %s" % h.short(results[:3]))
    h.check("a stranger and a plaintext peer were refused" in master.stderr(),
            "the master did not report its start-up proof:\n%s" % master.stderr()[-1000:])
    h.check("in plaintext" not in master.stderr(), "a plaintext warning with CURVE on")


def test_unlisted_and_plaintext_workers_get_nothing(env):
    n = 20
    keys, ports = Keys(env), h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, echo_job(env, n), out=out, summary=summary,
                              extra=keys.master_args())
    wait_master_ready(master, ports)
    stranger = env.start_worker(ports, extra=["--id", "stranger"] + keys.client_args("stranger"))
    plain = env.start_worker(ports, extra=["--id", "plain"])
    h.wait_for(lambda: "the master refused our key" in stranger.stderr(), h.scaled(10),
               "the unlisted worker to be refused")
    h.wait_for(lambda: "handshake failed" in plain.stderr(), h.scaled(10),
               "the plaintext worker's handshake to fail")
    h.check(h.holds_for(lambda: h.count_lines(out) == 0 and master.alive(), h.scaled(3)),
            "results were written with only an unlisted and a plaintext worker")
    s = status(env, ports, keys)
    h.check_eq(s["job"]["done"], 0, "done in the status")
    h.check_eq(s["workers"], [], "workers in the status")
    env.start_worker(ports, extra=["--id", "allowed", "--once"] + keys.client_args("worker"))
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    sm = h.read_summary(summary)
    h.check_eq(h.nonzero(sm["workers"]), {"allowed": n}, "workers in the summary")
    for key in ("garbage_dropped", "stale_dropped", "duplicates_dropped"):
        h.check_eq(sm[key], 0, "summary %s" % key)
    h.check(stranger.alive() and plain.alive(), "an intruding worker exited")
    log = master.stderr()
    h.check("refused a peer whose key is not in --allow" in log,
            "the master did not say it refused the unlisted key:\n%s" % log[-1500:])
    h.check("handshake failed (not a CURVE peer" in log,
            "the master did not report the plaintext peer's failed handshake:\n%s" % log[-1500:])


def test_worker_added_during_the_run_is_accepted(env):
    n = 20
    keys, ports = Keys(env, others=("late",)), h.Ports()
    out = env.path("out.jsonl")
    master = env.start_master(ports, echo_job(env, n), out=out, extra=keys.master_args())
    wait_master_ready(master, ports)
    late = env.start_worker(ports, extra=["--id", "late", "--once"] + keys.client_args("late"))
    h.wait_for(lambda: "the master refused our key" in late.stderr(), h.scaled(10),
               "the worker to be refused before it is listed")
    h.check(h.holds_for(lambda: h.count_lines(out) == 0, h.scaled(1)), "results before listing")
    added = time.monotonic()
    keys.admit("late")
    h.check_eq(master.wait_exit(h.scaled(20), "master"), 0, "master exit status")
    env.note("accepted and done %.2f s after its certificate was added" % (time.monotonic() - added))
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    h.check(all(r["worker"] == "late" for r in results), "results not from the late worker")


def _forge(ctx, ports, job_id, curve_keys=None, server_key=None):
    """A PUSH at the results port sending a ResultBatch for seq 1; returns
    the socket (closed by the caller)."""
    import zmq
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    if curve_keys:
        push.setsockopt(zmq.CURVE_PUBLICKEY, curve_keys[0])
        push.setsockopt(zmq.CURVE_SECRETKEY, curve_keys[1])
        push.setsockopt(zmq.CURVE_SERVERKEY, server_key)
    push.connect(h.Ports.ep(ports.results))
    frame = h.worker_to_master(results=[{
        "job_id": job_id, "seq": 1, "id": "e0", "attempt": 1, "status": h.proto().OK,
        "output": b"FORGED", "worker_id": "forger"}])
    try:
        push.send(frame, zmq.DONTWAIT)
    except zmq.Again:
        pass    #  no connection completed: nothing could be sent (ZMQ_IMMEDIATE off: queued)
    return push


def test_forged_results_write_nothing(env):
    import zmq
    n = 5
    keys, ports = Keys(env, allowed=("worker", "operator", "insider")), h.Ports()
    out = env.path("out.jsonl")
    master = env.start_master(ports, echo_job(env, n), out=out, extra=keys.master_args())
    wait_master_ready(master, ports)
    job_id = status(env, ports, keys)["job"]["id"]
    master_key = keys.z85("master")[0]
    ctx = zmq.Context()
    try:
        forgers = [_forge(ctx, ports, job_id, keys.z85("stranger"), master_key),
                   _forge(ctx, ports, job_id)]
        h.check(h.holds_for(lambda: h.count_lines(out) == 0, h.scaled(3)),
                "a forged result was written: %s" % h.short(h.complete_lines(out)))
        h.check_eq(status(env, ports, keys)["job"]["done"], 0, "done after the forgeries")
        #  The control: the same frame from a listed key is a real result.
        forgers.append(_forge(ctx, ports, job_id, keys.z85("insider"), master_key))
        h.wait_for(lambda: h.count_lines(out) == 1, h.scaled(10),
                   "the listed key's frame to be written (the attack is real)")
        h.check_eq(h.complete_lines(out)[0]["worker"], "forger", "the control result's worker")
        for push in forgers:
            push.close(0)
    finally:
        ctx.destroy(linger=0)
    env.start_worker(ports, extra=["--id", "w1", "--once"] + keys.client_args("worker"))
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)


def _greeting_mechanism(port):
    """The mechanism a port's ZMTP greeting names. Only our signature and
    version go out, so the peer's greeting comes whole before it sees ours
    (a whole greeting naming another mechanism is closed on at once)."""
    s = socket.create_connection((h.HOST, port), timeout=5)
    try:
        s.sendall(h.zmtp_greeting()[:11])
        data = b""
        while len(data) < 64:
            chunk = s.recv(64 - len(data))
            if not chunk:
                break
            data += chunk
        return data[12:32].rstrip(b"\x00")
    finally:
        s.close()


def _capture(env, ports, name):
    """Starts tcpdump on loopback for the four ports; returns (proc, path),
    or None where it cannot capture here."""
    tcpdump = shutil.which("tcpdump") or ("/usr/bin/tcpdump" if os.path.exists("/usr/bin/tcpdump")
                                          else None)
    if not tcpdump:
        return None
    path = env.path(name + ".pcap")
    expr = " or ".join("port %d" % p for p in (ports.tasks, ports.results, ports.control,
                                                ports.admin))
    p = env.start("tcpdump-" + name, [tcpdump, "-i", "lo", "-U", "--immediate-mode", "-n", "-s", "0"]
                  + (["-Z", "root"] if os.geteuid() == 0 else []) + ["-w", path, expr])
    if not h.eventually(lambda: "listening on" in p.stderr() or not p.alive(), h.scaled(5)) \
       or not p.alive():
        p.stop()
        env.note("tcpdump cannot capture here: %s" % p.stderr().strip()[:200])
        return None
    return p, path


def _run_job_captured(env, ports, marker, master_extra, worker_extra):
    cap = _capture(env, ports, "curve" if master_extra else "plain")
    n = 20
    out = env.path("out-%s.jsonl" % marker)
    job = env.write_job("job-%s.jsonl" % marker, [{"id": "p%d" % i, "type": "echo",
                                                   "payload": "%s-%d" % (marker, i)}
                                                  for i in range(n)])
    master = env.start_master(ports, job, out=out, extra=master_extra)
    env.start_worker(ports, extra=["--once"] + worker_extra)
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    if not cap:
        return None
    proc, path = cap
    #  Immediate mode hands each packet over as it comes; what is written
    #  stops growing once the job's last packets are in.
    sizes = []

    def settled():
        sizes.append(os.path.getsize(path))
        return len(sizes) > 10 and sizes[-1] > 24 and sizes[-1] == sizes[-10]
    h.wait_for(settled, h.scaled(10), "the capture to settle")
    proc.signal(signal.SIGINT)      #  tcpdump writes out what it holds and exits
    proc.wait_exit(h.scaled(10), "tcpdump")
    with open(path, "rb") as f:
        return f.read()


def test_payload_is_not_on_the_wire(env):
    keys = Keys(env)
    ports = h.Ports()
    master = env.start_master(ports, echo_job(env, 5), extra=keys.master_args())
    wait_master_ready(master, ports)
    for port in (ports.tasks, ports.results, ports.control, ports.admin):
        h.check_eq(_greeting_mechanism(port), b"CURVE", "mechanism of port %d" % port)
    master.stop()
    marker = "PAYLOAD-%08x" % os.getpid()
    plain = _run_job_captured(env, h.Ports(), "plain-" + marker, [], [])
    secret = _run_job_captured(env, h.Ports(), "curve-" + marker, keys.master_args(),
                               keys.client_args("worker"))
    if plain is None or secret is None:
        env.note("no loopback capture here: checked the mechanism each port greets with")
        return
    env.note("captured %d bytes in plaintext, %d with CURVE" % (len(plain), len(secret)))
    h.check(("plain-" + marker).encode() in plain,
            "the plaintext capture lacks the payload: the capture does not see the traffic")
    h.check(marker.encode() not in secret, "the payload is on the wire with CURVE")


def _never_listens(proc, ports):
    bound = set()

    def exited():
        bound.update(p for p in (ports.tasks, ports.results, ports.control, ports.admin)
                     if h.is_listening(p))
        return not proc.alive()
    h.wait_for(exited, h.scaled(10), "%s to exit" % proc.name, interval=0.005)
    h.check_eq(sorted(bound), [], "ports bound before the refusal")


def test_refused_before_anything_binds(env):
    keys, ports = Keys(env), h.Ports()
    job = echo_job(env, 3)
    os.chmod(keys.secret("master"), 0o644)
    master = env.start_master(ports, job, extra=keys.master_args(), name="open-secret")
    _never_listens(master, ports)
    h.check_eq(master.poll(), 2, "exit status with a 0644 secret")
    h.check("mode 0644" in master.stderr(), "no reason given: %s" % master.stderr())
    os.chmod(keys.secret("master"), 0o600)
    os.chmod(keys.secret("worker"), 0o640)
    worker = env.start_worker(ports, extra=keys.client_args("worker"), name="open-worker")
    h.check_eq(worker.wait_exit(h.scaled(10)), 2, "worker exit status with a 0640 secret")
    h.check("group or others" in worker.stderr(), "no reason given: %s" % worker.stderr())
    shutil.copy(keys.public("worker"), os.path.join(keys.allow, "worker-again"))
    master = env.start_master(ports, job, extra=keys.master_args(), name="duplicate")
    _never_listens(master, ports)
    h.check_eq(master.poll(), 2, "exit status with two files of one key")
    h.check("same public key" in master.stderr(), "no reason given: %s" % master.stderr())
    master = env.start_master(ports, job, extra=["--cert", keys.secret("master")], name="half")
    _never_listens(master, ports)
    h.check_eq(master.poll(), 2, "exit status with --cert and no --allow")


if __name__ == "__main__":
    h.main([test_allowed_worker_completes_a_job, test_unlisted_and_plaintext_workers_get_nothing,
            test_worker_added_during_the_run_is_accepted, test_forged_results_write_nothing,
            test_payload_is_not_on_the_wire, test_refused_before_anything_binds], __doc__)

#!/usr/bin/env python3
"""A 20 000-task job of mixed types on three real workers over loopback TCP.

Checks, against values computed here: every seq exactly once, ids and types
map back to the job lines, sha256 digests (plain, rounds=N; and binary
payloads), echo round trips (text with escapes and non-ASCII, binary as
output_b64), count-words, exec output / exit codes / failed status /
retries / timeouts, sleep and its timeout, unknown types -> no_handler,
master exit status 1, and the summary against the results file. A second
test checks that a worker without --allow-exec answers exec with "rejected"
and never runs the command.
"""

import base64
import collections
import hashlib
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N_TASKS = 20000
SEED = 20240611

TEXT_CHARS = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
              "      .,;:!?-_=+*/'\"\\\t\n{}[]<>%$#@&|~`\x01\x1f\x7f"
              "\u00e9\u00fc\u00df\u4e2d\u6587\u2028\u00a0\U0001F600\U0001D11E")
WORDS = ["alpha", "beta", "gamma", "x", "w\u00f6rd", "\u4e2d\u6587", "it's", "a-b", "42", "zz"]
SEPARATORS = [" ", "  ", "\t", "\n", " \t ", "\n\n"]
UNKNOWN_TYPES = ["frobnicate", "no-such-handler", "sha512", "reverse"]


def rand_text(rng, lo=0, hi=80):
    return "".join(rng.choice(TEXT_CHARS) for _ in range(rng.randint(lo, hi)))


def rand_binary(rng, lo=1, hi=64):
    #  0xff never occurs in UTF-8: the payload is guaranteed not to be text.
    return b"\xff" + bytes(rng.getrandbits(8) for _ in range(rng.randint(lo, hi)))


def sha256_rounds(data, rounds):
    digest = hashlib.sha256(data).digest()
    for _ in range(rounds - 1):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def make_job(rng):
    """Returns the task dicts and, per id, what to expect:
    {"status", "output" (bytes or None = don't care), "exit_code", "attempts",
     "max_duration_us"}."""
    tasks = []

    def add(kind, task, **expect):
        tasks.append((kind, task, expect))

    for i in range(300):
        add("exec", {"type": "exec", "payload": "echo $((%d*%d)); exit $((%d%%3))" % (i, i, i),
                     "timeout_ms": 30000, "retries": 0},
            status="ok" if i % 3 == 0 else "failed", output=b"%d\n" % (i * i),
            exit_code=i % 3, attempts=1)
    for i in range(5):
        add("exec-retry", {"type": "exec", "payload": "echo try%d; exit 1" % i,
                           "timeout_ms": 30000, "retries": 2},
            status="failed", output=b"try%d\n" % i, exit_code=1, attempts=3)
    for i in range(2):
        #  A compound command: sh stays the parent of sleep, and sleep holds
        #  the stdout pipe. The timeout must kill the whole command, and the
        #  result must not wait for the orphaned sleep's 10 s.
        add("exec-timeout", {"type": "exec", "payload": "sleep 10; echo late%d" % i,
                             "timeout_ms": 300, "retries": 0},
            status="timeout", attempts=1, max_duration_us=5000000)
    for i in range(2):
        add("exec-binary", {"type": "exec", "payload": "printf '\\377\\376bin%d'" % i,
                            "timeout_ms": 30000, "retries": 0},
            status="ok", output=b"\xff\xfebin%d" % i, exit_code=0, attempts=1)
    for i in range(10):
        add("sleep", {"type": "sleep", "payload": str(3 + i), "timeout_ms": 10000},
            status="ok")
    for i in range(2):
        add("sleep-timeout", {"type": "sleep", "payload": "5000", "timeout_ms": 150, "retries": 0},
            status="timeout", attempts=1, max_duration_us=3000000)
    for i in range(20):
        add("unknown", {"type": UNKNOWN_TYPES[i % len(UNKNOWN_TYPES)], "payload": rand_text(rng),
                        "retries": 0},
            status="no_handler", attempts=1)
    for i in range(2000):
        text = rand_text(rng)
        add("echo", {"type": "echo", "payload": text}, status="ok", output=text.encode("utf-8"))
    for i in range(50):
        data = rand_binary(rng)
        add("echo-binary", {"type": "echo", "payload_b64": base64.b64encode(data).decode()},
            status="ok", output=data)
    for i in range(5):
        add("echo-empty", {"type": "echo", "payload": ""}, status="ok", output=b"")
    for i in range(2000):
        add("noop", {"type": "noop", "payload": rand_text(rng, 0, 20)}, status="ok", output=b"")
    for i in range(2000):
        if i < 3:
            text = ["", "   ", "\t\n "][i]
        else:
            words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
            text = rng.choice(["", " ", "\n"]) + "".join(
                w + rng.choice(SEPARATORS) for w in words[:-1]) + words[-1] + rng.choice(["", " ", "\t"])
        add("count-words", {"type": "count-words", "payload": text}, status="ok",
            output=str(len(text.split())).encode())
    n_sha = N_TASKS - len(tasks)
    for i in range(n_sha):
        if i < 500:
            rounds = 1 + i % 6
            text = rand_text(rng, 0, 40)
            add("sha256-rounds", {"type": "sha256", "payload": "rounds=%d;%s" % (rounds, text)},
                status="ok", output=sha256_rounds(text.encode("utf-8"), rounds).encode())
        elif i < 700:
            data = rand_binary(rng, 0, 100)
            add("sha256-binary", {"type": "sha256", "payload_b64": base64.b64encode(data).decode()},
                status="ok", output=hashlib.sha256(data).hexdigest().encode())
        else:
            text = rand_text(rng, 0, 120)
            if text.startswith("rounds="):
                text = "x" + text
            add("sha256", {"type": "sha256", "payload": text}, status="ok",
                output=hashlib.sha256(text.encode("utf-8")).hexdigest().encode())
    rng.shuffle(tasks)
    job = []
    expect = {}
    for k, (kind, task, exp) in enumerate(tasks):
        #  A few ids that need JSON escaping and are not ASCII.
        tid = "t%05d" % k if k % 997 else 'weird "%d" \\ \u00fc\u4e2d' % k
        task = dict(task, id=tid)
        job.append(task)
        expect[tid] = dict(exp, kind=kind, type=task["type"])
    return job, expect


def check_against_expectations(results, expect):
    problems = collections.defaultdict(list)
    for r in results:
        h.check_result_shape(r)
        exp = expect.get(r["id"])
        if exp is None:
            problems["id not in the job"].append(r)
            continue
        if r["type"] != exp["type"]:
            problems["type differs from the job line"].append(r)
        if r["status"] != exp["status"]:
            problems["%s: status %s, expected %s" % (exp["kind"], r["status"], exp["status"])].append(r)
            continue
        if "output" in exp and exp["status"] == "ok":
            if h.output_bytes(r) != exp["output"]:
                problems["%s: wrong output" % exp["kind"]].append(r)
        elif "output" in exp and ("output" in r or "output_b64" in r):
            #  Not ok (exec exit != 0): the captured stdout, if reported, is right.
            if h.output_bytes(r) != exp["output"]:
                problems["%s: wrong output of a failed command" % exp["kind"]].append(r)
        if "exit_code" in exp and r.get("exit_code") != exp["exit_code"]:
            problems["%s: exit_code %s, expected %s" % (exp["kind"], r.get("exit_code"),
                                                       exp["exit_code"])].append(r)
        if "attempts" in exp and r["attempts"] != exp["attempts"]:
            problems["%s: attempts %s, expected %s" % (exp["kind"], r["attempts"],
                                                      exp["attempts"])].append(r)
        if "max_duration_us" in exp and r["duration_us"] > h.scaled(exp["max_duration_us"]):
            problems["%s: duration_us %d > %d" % (exp["kind"], r["duration_us"],
                                                 h.scaled(exp["max_duration_us"]))].append(r)
    if problems:
        lines = ["%d x %s, e.g. %s" % (len(v), k, h.short(v[0], 400)) for k, v in problems.items()]
        h.fail("results differ from expectations: " + " | ".join(lines[:8]))


def test_mixed_job_three_workers(env):
    rng = random.Random(SEED)
    job, expect = make_job(rng)
    check_ids = collections.Counter(t["id"] for t in job)
    h.check(len(check_ids) == N_TASKS, "test bug: ids not unique")
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()

    #  Workers first, and proven to be dialling the tasks port, so that all
    #  three are connected when the master starts dispatching.
    workers = [env.start_worker(ports, extra=["--allow-exec"], threads=2) for _ in range(3)]
    h.wait_for_connect_attempts(ports.tasks, {w.pid for w in workers}, h.scaled(15))
    master = env.start_master(ports, job_path, out=out, summary=summary_path, extra=["--min-workers", "3"])
    rc = master.wait_exit(min(h.scaled(60), 150), "master (20 000-task job)")
    for w in workers:
        h.check(w.alive(), "worker %s exited (status %s) during the job" % (w.name, w.poll()))

    results = h.read_results(out)
    by_seq = h.check_exactly_once(results, N_TASKS)
    check_against_expectations(results, expect)
    ids = collections.Counter(r["id"] for r in results)
    dup_ids = [i for i, c in ids.items() if c > 1]
    h.check(not dup_ids, "ids reported more than once: %s" % dup_ids[:5])
    h.check_eq(rc, 1, "master exit status (some tasks are no_handler/failed/timeout)")

    pids = {w.pid for w in workers}
    strangers = {r["worker"] for r in results if h.worker_pid(r["worker"]) not in pids}
    h.check(not strangers, "results from workers that are not ours (pids %s): %s"
            % (sorted(pids), sorted(strangers)[:5]))

    summary = h.read_summary(summary_path)
    h.check_summary(summary, results, exit_status=1, n_workers=3)
    h.check_eq(sum(summary["workers"].values()), N_TASKS, "sum of per-worker counts")
    retried = sum(r["attempts"] - 1 for r in results)
    h.check(retried >= 10, "expected at least 10 retries (5 exec tasks x 2), results show %d" % retried)
    kinds = collections.Counter(expect[r["id"]]["kind"] for r in by_seq.values())
    env.note("kinds: %s; workers: %s; %.0f tasks/s"
             % (dict(kinds), sorted(summary["workers"].values()), summary.get("tasks_per_s", 0)))


def test_exec_rejected_without_allow_exec(env):
    marker_dir = env.path("markers")
    os.mkdir(marker_dir)
    job = []
    for i in range(10):
        job.append({"id": "x%d" % i, "type": "exec", "retries": 0, "timeout_ms": 10000,
                    "payload": "touch %s/ran-%d; echo ran" % (marker_dir, i)})
        job.append({"id": "e%d" % i, "type": "echo", "payload": "hello %d" % i})
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out, summary=summary_path)
    worker = env.start_worker(ports, threads=2)    # no --allow-exec
    rc = master.wait_exit(h.scaled(30), "master")
    results = h.read_results(out)
    h.check_exactly_once(results, len(job))
    for r in results:
        h.check_result_shape(r)
        if r["id"].startswith("x"):
            h.check_eq((r["type"], r["status"], r["attempts"]), ("exec", "rejected", 1),
                       "exec task %s (type, status, attempts)" % r["id"])
        else:
            h.check_eq((r["status"], h.output_bytes(r)), ("ok", ("hello " + r["id"][1:]).encode()),
                       "echo task %s (status, output)" % r["id"])
    ran = os.listdir(marker_dir)
    h.check(not ran, "a worker without --allow-exec ran exec commands: %s" % ran)
    h.check_eq(rc, 1, "master exit status")
    h.check_summary(h.read_summary(summary_path), results, exit_status=1, n_workers=1)
    h.check(worker.alive(), "worker exited after the job")


if __name__ == "__main__":
    h.main([test_mixed_job_three_workers, test_exec_rejected_without_allow_exec], __doc__)

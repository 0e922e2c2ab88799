#!/usr/bin/env python3
"""Reducers at the sink (--reduce): each final ok result counted exactly
once, whatever was retried or run twice.

(1) Map-reduce: the licence texts Debian ships, in chunks, mapped by the
    wordfreq plugin on two workers and reduced with count-words: the totals
    equal what `tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c` counts on
    the same text.
(2) sum and (3) concat with a worker SIGKILLed mid-job and another started:
    the sum is exact, the concatenation is every output once in seq order.
(4) --resume rebuilds the sum from the results file after the master was
    SIGKILLed mid-job.
(5) count-words past --reduce-max-words keeps that many words and counts
    the rest as dropped.
"""

import collections
import json
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

WORDFREQ = os.environ.get("TASKMILL_WORDFREQ", "")
CORPUS = "/usr/share/common-licenses"


def corpus_files():
    return sorted(os.path.join(CORPUS, n) for n in os.listdir(CORPUS)
                  if os.path.isfile(os.path.join(CORPUS, n)))


def chunk_job(env, paths, lines_per_task=100):
    tasks = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        for start in range(0, len(lines), lines_per_task):
            tasks.append({"id": "%s:%d" % (os.path.basename(path), start + 1), "type": "wordfreq",
                          "payload": "".join(lines[start:start + lines_per_task])})
    return env.write_job("job.jsonl", tasks), len(tasks)


def tr_counts(paths):
    pipeline = ("cat %s | tr -cs 'A-Za-z' '\\n' | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c"
                % " ".join("'%s'" % p for p in paths))
    out = subprocess.run(["sh", "-c", pipeline], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, LC_ALL="C"), check=True).stdout
    return {word: int(count) for count, word in (line.split() for line in out.splitlines())}


def run_cluster(env, job, reduce, workers=2, extra_master=(), worker_extra=(), name="master"):
    ports = h.Ports()
    out, summary = env.path("%s-out.jsonl" % name), env.path("%s-summary.json" % name)
    master = env.start_master(ports, job, out=out, summary=summary, name=name,
                              extra=["--reduce", reduce] + list(extra_master))
    procs = [env.start_worker(ports, threads=2, extra=["--once"] + list(worker_extra))
             for _ in range(workers)]
    return ports, master, procs, out, summary


def test_map_reduce_counts_as_tr_does(env):
    h.check(os.path.exists(WORDFREQ), "run through ctest (TASKMILL_WORDFREQ)")
    paths = corpus_files()
    job, n = chunk_job(env, paths)
    _, master, _, out, summary = run_cluster(env, job, "count-words",
                                              worker_extra=["--plugin", WORDFREQ])
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    reduced = h.read_summary(summary)["reduce"]
    expected = tr_counts(paths)
    env.note("corpus: %d files, %d bytes, %d tasks; %d distinct words, %d in all"
             % (len(paths), sum(os.path.getsize(p) for p in paths), n, len(expected),
                sum(expected.values())))
    h.check_eq(reduced["distinct"], len(expected), "distinct words")
    h.check_eq(reduced["words"], expected, "word totals against tr | sort | uniq -c")


def numbers_job(env, n):
    return env.write_job("job.jsonl", [{"id": "n%d" % i, "type": "exec",
                                        "payload": "sleep 0.004; echo %d" % i, "retries": 5}
                                       for i in range(1, n + 1)])


def kill_one_mid_job(env, ports, out, procs, at):
    h.wait_for(lambda: h.count_lines(out) >= at, h.scaled(30), "%d results written" % at)
    procs[0].signal(signal.SIGKILL)
    env.start_worker(ports, threads=2, extra=["--once", "--allow-exec"], name="replacement")


def test_sum_is_exact_with_a_worker_killed(env):
    n = 1200
    ports, master, procs, out, summary = run_cluster(env, numbers_job(env, n), "sum",
                                                     worker_extra=["--allow-exec"])
    kill_one_mid_job(env, ports, out, procs, n // 3)
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    s = h.read_summary(summary)
    env.note("reduce %s; reissued %d retries %d duplicates %d"
             % (s["reduce"], s["reissued"], s["retries"], s["duplicates_dropped"]))
    h.check_eq(s["reduce"]["value"], n * (n + 1) // 2, "the sum")
    h.check_eq(s["reduce"]["numbers"], n, "numbers summed")


def test_concat_is_in_seq_order_with_a_worker_killed(env):
    n = 1200
    target = env.path("concat.out")
    ports, master, procs, out, summary = run_cluster(env, numbers_job(env, n),
                                                     "concat:" + target,
                                                     worker_extra=["--allow-exec"])
    kill_one_mid_job(env, ports, out, procs, n // 3)
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    with open(target) as f:
        text = f.read()
    h.check_eq(text, "".join("%d\n" % i for i in range(1, n + 1)), "the concatenation")


def test_resume_rebuilds_the_sum(env):
    n = 1500
    job = numbers_job(env, n)
    ports = h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, job, out=out, extra=["--reduce", "sum"])
    env.start_worker(ports, threads=2, extra=["--allow-exec"])
    h.wait_for(lambda: h.count_lines(out) >= n // 3, h.scaled(30), "a third of the job written")
    master.signal(signal.SIGKILL)
    master.wait_exit(h.scaled(10), "master after SIGKILL")
    again = env.start_master(ports, job, out=out, summary=summary, name="resumed",
                             extra=["--reduce", "sum", "--resume"])
    h.check_eq(again.wait_exit(h.scaled(60), "resumed master"), 0, "resumed master exit status")
    h.check_exactly_once(h.read_results(out), n)
    s = h.read_summary(summary)
    env.note("resumed: %d skipped as final; reduce %s" % (s["resumed_skipped"], s["reduce"]))
    h.check(s["resumed_skipped"] > 0, "nothing was resumed")
    h.check_eq(s["reduce"]["value"], n * (n + 1) // 2, "the sum after --resume")


def test_count_words_is_bounded(env):
    h.check(os.path.exists(WORDFREQ), "run through ctest (TASKMILL_WORDFREQ)")
    job, n = chunk_job(env, corpus_files()[:3])
    _, master, _, out, summary = run_cluster(env, job, "count-words",
                                              extra_master=["--reduce-max-words", "10"],
                                              worker_extra=["--plugin", WORDFREQ])
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    reduced = h.read_summary(summary)["reduce"]
    h.check_eq(reduced["distinct"], 10, "distinct words kept")
    h.check(reduced["dropped_past_max_words"] > 0, "nothing counted as dropped")


if __name__ == "__main__":
    h.main([test_map_reduce_counts_as_tr_does, test_sum_is_exact_with_a_worker_killed,
            test_concat_is_in_seq_order_with_a_worker_killed, test_resume_rebuilds_the_sum,
            test_count_words_is_bounded], __doc__)

#!/usr/bin/env python3
"""Reducers at the sink (--reduce): each final ok result counted exactly
once, whatever was retried or run twice.

(1) Map-reduce: the licence texts Debian ships, in chunks, mapped by the
    wordfreq plugin on two workers and reduced with count-words: the totals
    equal what `tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c` counts on
    the same text, and the summary prints its top 20.
(2) sum and (3) concat with a worker SIGKILLed mid-job and another started:
    the sum is exact, the concatenation is every output once in seq order.
(4) --resume rebuilds the sum from the results file after the master was
    SIGKILLed mid-job.
(5) count-words past --reduce-max-words keeps that many words and counts
    the rest as dropped.
(6) concat after --resume: a master SIGKILLed mid-job (some tasks failed,
    others in flight, its concat file torn), run again with --resume while
    a worker is SIGKILLed: the file is every ok output of both runs once,
    in seq order, as an uninterrupted run would have written it.
(7) concat resumes from a results file far from seq order (written
    backwards): the outputs it needs are found by reading it again from the
    top, and no more than a window of them wait at once.
(8) A slow first task holds the concat file back: no more than a window of
    outputs wait for it (dispatch waits instead).
(9) deploy/examples/wordcount.sh, run as a user runs it: its totals are
    what tr counts, and it says the corpus's size.
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
BUILD = os.environ.get("TASKMILL_BUILD_DIR", "")
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
    #  The human summary names the 20 most frequent, ties by word.
    top = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:20]
    printed = [line for line in master.stderr().splitlines() if "reduce count-words:" in line]
    h.check_eq(len(printed), 1, "reduce lines in the master's summary")
    h.check_eq(printed[0].split("top: ", 1)[1].split(),
               ["%s=%d" % item for item in top], "the top 20 printed")


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


def mixed_numbers_job(env, n, fail_every):
    """Each task echoes its number; every fail_every-th fails for good."""
    def command(i):
        return "exit 3" if i % fail_every == 0 else "sleep 0.004; echo %d" % i
    tasks = [{"id": "n%d" % i, "type": "exec", "payload": command(i),
              "retries": 0 if i % fail_every == 0 else 5} for i in range(1, n + 1)]
    expected = "".join("%d\n" % i for i in range(1, n + 1) if i % fail_every)
    return env.write_job("job.jsonl", tasks), expected


def test_concat_resumed_after_the_master_was_killed(env):
    n, fail_every = 1500, 97
    job, expected = mixed_numbers_job(env, n, fail_every)
    target = env.path("concat.out")
    ports = h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    reduce = ["--reduce", "concat:" + target, "--window", "64"]
    first = env.start_master(ports, job, out=out, extra=reduce + ["--quiet"])
    worker = env.start_worker(ports, threads=2, extra=["--allow-exec"])
    h.wait_for(lambda: h.count_lines(out) >= n // 3 or not first.alive(), h.scaled(30),
               "a third of the job written")
    h.check(first.alive(), "the first master ended before it could be killed")
    first.signal(signal.SIGKILL)
    first.wait_exit(h.scaled(10), "master after SIGKILL")
    before = h.complete_lines(out)
    ok_before = sum(1 for r in before if r["status"] == "ok")
    h.check(len(before) < n, "the first run finished before it was killed")
    #  Whatever the killed run left in its file is not to be trusted.
    with open(target, "a") as f:
        f.write("torn")
    again = env.start_master(ports, job, out=out, summary=summary, name="resumed",
                             extra=reduce + ["--resume"])
    h.wait_for(lambda: h.count_lines(out) >= 2 * n // 3 or not again.alive(), h.scaled(30),
               "two thirds of the job written")
    worker.signal(signal.SIGKILL)
    env.start_worker(ports, threads=2, extra=["--allow-exec"], name="replacement")
    h.check_eq(again.wait_exit(h.scaled(60), "resumed master"), 1,
               "resumed master exit status (some tasks failed)")
    results = h.read_results(out)
    by_seq = h.check_exactly_once(results, n)
    failed = sorted(s for s, r in by_seq.items() if r["status"] != "ok")
    h.check_eq(failed, list(range(fail_every, n + 1, fail_every)), "the seqs that failed")
    with open(target) as f:
        text = f.read()
    h.check_eq(text, expected, "the concatenation after --resume")
    from_results = "".join(h.output_bytes(by_seq[s]).decode() for s in range(1, n + 1)
                           if by_seq[s]["status"] == "ok")
    h.check_eq(text, from_results, "the concatenation against the results file")
    s = h.read_summary(summary)
    gaps = max(r["seq"] for r in before) - len(before)
    env.note("first run: %d results (%d ok, %d seqs missing below its highest) before SIGKILL; "
             "resumed: %d skipped, reduce %s; reissued %d retries %d duplicates %d"
             % (len(before), ok_before, gaps, s["resumed_skipped"], s["reduce"], s["reissued"],
                s["retries"], s["duplicates_dropped"]))
    h.check_eq(s["resumed_skipped"], len(before), "resumed_skipped")
    h.check_eq(s["reduce"]["from_earlier_runs"], ok_before, "outputs read back from the results")
    h.check_eq(s["reduce"]["written_through_seq"], n, "written through")
    h.check(s["reduce"]["most_waiting"] <= 64, "more than the window waited: %s" % s["reduce"])


def test_concat_resume_reads_a_results_file_far_from_seq_order(env):
    n, window = 400, 8
    job = env.write_job("job.jsonl", [{"id": "e%d" % i, "type": "echo", "payload": "<%d>" % i}
                                      for i in range(1, n + 1)])
    out, summary, target = env.path("out.jsonl"), env.path("summary.json"), env.path("c.out")
    #  An earlier run that finished every other seq of the first half, the
    #  last first: the worst order for a scan that reads forward.
    earlier = list(range(n // 2 - 1, 0, -2))
    with open(out, "w") as f:
        for seq in earlier:
            f.write(json.dumps({"seq": seq, "id": "e%d" % seq, "type": "echo", "status": "ok",
                                "attempts": 1, "worker": "w/1", "duration_us": 1,
                                "output": "<%d>" % seq}) + "\n")
    ports = h.Ports()
    master = env.start_master(ports, job, out=out, summary=summary,
                              extra=["--reduce", "concat:" + target, "--resume",
                                     "--window", str(window)])
    env.start_worker(ports, threads=2, extra=["--once"])
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    with open(target) as f:
        h.check_eq(f.read(), "".join("<%d>" % i for i in range(1, n + 1)), "the concatenation")
    reduced = h.read_summary(summary)["reduce"]
    env.note("reduce %s" % reduced)
    h.check_eq(reduced["from_earlier_runs"], len(earlier), "outputs read back")
    h.check(reduced["results_rescans"] > 0, "the results were never read again")
    h.check(reduced["most_waiting"] <= window, "more than the window waited: %s" % reduced)


def test_concat_waits_a_window_at_most_behind_a_slow_task(env):
    n, window = 300, 16
    tasks = [{"id": "s1", "type": "exec", "payload": "sleep 1; echo first"}]
    tasks += [{"id": "e%d" % i, "type": "echo", "payload": "<%d>" % i} for i in range(2, n + 1)]
    target = env.path("c.out")
    _, master, _, out, summary = run_cluster(env, env.write_job("job.jsonl", tasks),
                                             "concat:" + target,
                                             extra_master=["--window", str(window)],
                                             worker_extra=["--allow-exec"])
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    with open(target) as f:
        h.check_eq(f.read(), "first\n" + "".join("<%d>" % i for i in range(2, n + 1)),
                   "the concatenation")
    reduced = h.read_summary(summary)["reduce"]
    env.note("reduce %s" % reduced)
    h.check(reduced["most_waiting"] <= window, "more than the window waited: %s" % reduced)


def test_wordcount_example_counts_as_tr_does(env):
    h.check(os.path.isdir(BUILD), "run through ctest (TASKMILL_BUILD_DIR)")
    script = os.path.join(h.REPO, "deploy", "examples", "wordcount.sh")
    environment = dict(os.environ, TASKMILL_BIN=BUILD, TASKMILL_WORK_DIR=env.tmp,
                       TASKMILL_PORT_BASE=str(h.free_port_run(4)))
    p = subprocess.Popen(["sh", script], env=environment, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = p.communicate(timeout=h.scaled(60))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    h.check_eq(p.returncode, 0, "wordcount.sh exit status (stderr: %s)" % h.short(stderr, 2000))
    paths = corpus_files()
    size = sum(os.path.getsize(path) for path in paths)
    h.check("of %d files (%d bytes)" % (len(paths), size) in stderr,
            "no corpus size in %s" % h.short(stderr, 2000))
    reduced = h.read_summary(os.path.join(env.tmp, "wordcount-summary.json"))["reduce"]
    h.check_eq(reduced["words"], tr_counts(paths), "word totals against tr | sort | uniq -c")


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
            test_count_words_is_bounded, test_concat_resumed_after_the_master_was_killed,
            test_concat_resume_reads_a_results_file_far_from_seq_order,
            test_concat_waits_a_window_at_most_behind_a_slow_task,
            test_wordcount_example_counts_as_tr_does], __doc__)

#!/usr/bin/env python3
"""Plugins (taskmill/plugin.h): task types from a shared library.

(1) A worker refuses a plugin, exit 2 with a message saying why, when the
    file is missing, its entry point or its ABI symbol is missing, its ABI
    version is not the worker's, its registration fails, or it takes a type
    already taken (a built-in, or the same plugin twice).
(2) --list-handlers prints every type, built-in and plugin, and exits 0.
(3) The example plugin, wordfreq, on 4 executor threads over a job of
    hundreds of texts: every output equals the word count Python computes
    (words: runs of ASCII letters, lowercased).
(4) A plugin built out of the tree, against the header and the pkg-config
    file that `cmake --install` puts in a prefix, loads and runs.
(5) A plugin task still running when its job ends (its lease ran out, so
    the master made it final without it) sees its cancelled flag rise and
    returns, so a --once worker exits at once rather than when the handler
    would have given up (60 s).
"""

import collections
import json
import os
import random
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

WORDFREQ = os.environ.get("TASKMILL_WORDFREQ", "")
BAD = os.environ.get("TASKMILL_BAD_PLUGINS", "")
BUILD = os.environ.get("TASKMILL_BUILD_DIR", "")


def need_build_paths():
    h.check(os.path.exists(WORDFREQ) and os.path.isdir(BAD) and os.path.isdir(BUILD),
            "run through ctest (TASKMILL_WORDFREQ, TASKMILL_BAD_PLUGINS, TASKMILL_BUILD_DIR)")


def word_counts(text):
    counts = collections.Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return json.dumps(dict(sorted(counts.items())), separators=(",", ":"))


def test_bad_plugins_are_refused(env):
    need_build_paths()
    cases = [
        ([env.path("missing.so")], "cannot load plugin"),
        ([os.path.join(BAD, "libbad_plugin_no_entry.so")], "no taskmill_plugin_register"),
        ([os.path.join(BAD, "libbad_plugin_no_abi.so")], "no taskmill_plugin_abi"),
        ([os.path.join(BAD, "libbad_plugin_wrong_abi.so")], "built for plugin ABI 2"),
        ([os.path.join(BAD, "libbad_plugin_refuses.so")], "refused to load"),
        ([os.path.join(BAD, "libbad_plugin_taken_type.so")], "type 'echo'"),
        ([WORDFREQ, WORDFREQ], "type 'wordfreq'"),
    ]
    for paths, message in cases:
        argv = [env.worker_bin, h.HOST]
        for path in paths:
            argv += ["--plugin", path]
        p = env.run("worker-plugin", argv, h.scaled(10))
        h.check_eq(p.poll(), 2, "exit status with %s" % [os.path.basename(x) for x in paths])
        h.check(message in p.stderr(), "no %r in %r" % (message, p.stderr()))


def test_list_handlers(env):
    need_build_paths()
    p = env.run("list", [env.worker_bin, "--list-handlers", "--plugin", WORDFREQ], h.scaled(10))
    h.check_eq(p.poll(), 0, "exit status of --list-handlers")
    types = p.stdout().split()
    h.check_eq(types, ["echo", "noop", "sleep", "sha256", "exec", "count-words", "wordfreq"],
               "types listed")


def test_wordfreq_on_four_threads(env):
    need_build_paths()
    rng = random.Random(5)
    vocabulary = ["Alpha", "beta", "GAMMA", "delta", "x", "é", "it's", "a-b", "tab\tsep"]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 60)))
             for _ in range(400)]
    job = env.write_job("job.jsonl", [{"id": "w%d" % i, "type": "wordfreq", "payload": t}
                                      for i, t in enumerate(texts)])
    ports = h.Ports()
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out, summary=env.path("summary.json"))
    env.start_worker(ports, threads=4, extra=["--plugin", WORDFREQ, "--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, len(texts))
    for r in results:
        expected = word_counts(texts[int(r["id"][1:])])
        h.check_eq(r["status"], "ok", "status of %s" % r["id"])
        h.check_eq(h.output_bytes(r).decode(), expected, "wordfreq of %s" % r["id"])


OUT_OF_TREE = r"""
#include <taskmill/plugin.h>
TASKMILL_PLUGIN_ABI;
static void s_run (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    for (size_t i = task->payload_size; i-- > 0;)
        out->write (out, task->payload + i, 1);
}
int taskmill_plugin_register (taskmill_registrar_t *registrar)
{
    static const taskmill_handler_t handler = { "reverse", s_run, 0, 0 };
    return registrar->add (registrar, &handler);
}
"""


def test_plugin_built_out_of_tree(env):
    need_build_paths()
    prefix = env.path("prefix")
    installed = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                               capture_output=True, text=True, timeout=120)
    h.check(installed.returncode == 0, "cmake --install failed: %s" % installed.stderr)
    pc_dirs = [os.path.join(prefix, d, "pkgconfig") for d in ("lib", "lib/x86_64-linux-gnu")]
    environment = dict(os.environ, PKG_CONFIG_PATH=":".join(pc_dirs))
    cflags = subprocess.run(["pkg-config", "--cflags", "taskmill-plugin"], env=environment,
                            capture_output=True, text=True, timeout=30)
    h.check(cflags.returncode == 0, "pkg-config taskmill-plugin: %s" % cflags.stderr)
    source = env.path("reverse.c")
    with open(source, "w") as f:
        f.write(OUT_OF_TREE)
    library = env.path("libreverse.so")
    built = subprocess.run(["cc", "-shared", "-Wall", "-Wextra", "-Werror", "-o", library, source]
                           + cflags.stdout.split(), capture_output=True, text=True, timeout=60)
    h.check(built.returncode == 0, "building the out-of-tree plugin: %s" % built.stderr)
    job = env.write_job("job.jsonl", [{"id": "r%d" % i, "type": "reverse", "payload": "abc%d" % i}
                                      for i in range(20)])
    ports = h.Ports()
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out)
    env.start_worker(ports, threads=2, extra=["--plugin", library, "--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, 20)
    for r in results:
        h.check_eq(h.output_bytes(r).decode(), ("abc%s" % r["id"][1:])[::-1], "output of " + r["id"])


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def test_job_end_cancels_a_running_plugin_task(env):
    need_build_paths()
    probe = os.path.join(BAD, "libprobe_plugin.so")
    marker = env.path("marker")
    job = env.write_job("job.jsonl", [{"id": "c1", "type": "probe-cancel", "payload": marker,
                                       "timeout_ms": 300, "retries": 0}])
    ports = h.Ports()
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out, extra=["--lease-grace", "200"])
    worker = env.start_worker(ports, threads=1, extra=["--plugin", probe, "--once"])
    h.wait_for(lambda: read_text(marker) == "started", h.scaled(15), "the handler to start")
    h.check_eq(master.wait_exit(h.scaled(15), "master"), 1, "master exit status (a timeout)")
    h.check_eq([r["status"] for r in h.read_results(out)], ["timeout"], "the task's status")
    h.wait_for(lambda: read_text(marker) != "started", h.scaled(10),
               "the handler to see its cancelled flag")
    h.check_eq(read_text(marker), "cancelled", "what the handler saw")
    h.check_eq(worker.wait_exit(h.scaled(10), "--once worker after the job's end"), 0,
               "worker exit status")


if __name__ == "__main__":
    h.main([test_bad_plugins_are_refused, test_list_handlers, test_wordfreq_on_four_threads,
            test_plugin_built_out_of_tree, test_job_end_cancels_a_running_plugin_task], __doc__)

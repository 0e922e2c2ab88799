#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/*): well-
formed messages of every envelope, built with taskmill_pb2 as the process
tests build them, a few broken ones, and job files of every format. Run it
again when the schema changes; crashes the fuzzers find are added beside
these by hand (named crash-*), and every file replays in
tests/unit/test_fuzz_corpus.c.

    python3 tests/fuzz/make_seeds.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "process"))
sys.dont_write_bytecode = True
import harness as h  # noqa: E402


def write(kind, name, data):
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


def codec_seeds():
    task = dict(job_id="job-1", seq=1, id="t1", type="echo", payload=b"hello", timeout_ms=5000,
                attempt=1, max_attempts=3)
    yield "tasks", h.master_to_worker([task, dict(task, seq=2, id="t2")], job_id="job-1",
                                      number=7, credit_stamp=42)
    yield "tasks-marker", h.master_to_worker([], job_id="job-1", number=8)
    yield "tasks-version-2", h.master_to_worker([task], version=2)
    yield "results", h.worker_to_master(results=[dict(
        job_id="job-1", seq=1, id="t1", attempt=1, status=1, output=b"out", error="",
        worker_id="w/1", start_us=1, duration_us=2)])
    yield "results-failed", h.worker_to_master(results=[dict(
        job_id="job-1", seq=3, id="t3", attempt=2, status=2, error="boom", worker_id="w/1")])
    yield "heartbeat", h.worker_to_master(heartbeat=dict(
        worker_id="w/1", host="h", pid=1, threads_busy=1, threads_total=2, tasks_done=5,
        held_seqs=[1, 2, 3], running_seqs=[1], job_id="job-1", last_batch=7,
        incarnation="0123456789abcdef"))
    yield "credit", h.worker_to_master(credit=dict(worker_id="w/1", credit=16, threads=2, epoch=1,
                                                   stamp=99))
    yield "control", h.control_message(1, "job-1")
    yield "control-drain", h.control_message(3, "job-1")
    valid = h.master_to_worker([task])
    yield "truncated", valid[:len(valid) // 2]
    yield "empty", b""


def job_seeds():
    #  First byte: bit 0 lines format, bit 1 --skip-invalid, bit 2 a default
    #  type, bit 3 a 64-byte line limit (see fuzz_job_reader.c).
    jsonl = (b'{"id": "a1", "type": "sha256", "payload": "text", "timeout_ms": 5000, "retries": 2}\n'
             b'{"type": "echo", "payload_b64": "AAEC/w=="}\n'
             b'{"id": "u", "type": "echo", "payload": "\\u00e9\\ud83d\\ude00"}\n')
    yield "jsonl", b"\x00" + jsonl
    yield "jsonl-skip-bad", b"\x02" + jsonl + b'{"id": 1, "type": "echo"}\nnot json\n{"type": ""}\n'
    yield "jsonl-default-type", b"\x04" + b'{"payload": "p"}\n{"id": "x"}\n'
    yield "jsonl-long-line", b"\x0a" + b'{"type": "echo", "payload": "' + b"x" * 200 + b'"}\n' + jsonl
    yield "lines", b"\x01" + b"one\ntwo\n\nthree without newline"
    yield "lines-crlf", b"\x03" + b"a\r\nb\r\n"
    yield "jsonl-no-final-newline", b"\x00" + b'{"type": "echo", "payload": "z"}'


def main():
    for name, data in codec_seeds():
        write("codec", name, data)
    for name, data in job_seeds():
        write("job_reader", name, data)


if __name__ == "__main__":
    main()

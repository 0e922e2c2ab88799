#!/usr/bin/env python3
"""Every size bounded and configurable (issue 10): --max-line, --max-payload
and --max-frame on the master, --max-output and --max-frame on a worker.
Bad values are exit 2 naming the option; a payload over the master's limit
is an error naming its line; an output over a worker's limit is cut to it;
a frame over the master's --max-frame drops the connection that sent it.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MIB = 1024 * 1024


def test_bad_limit_values_are_exit_2_naming_the_option(env):
    job = env.write_job("job.jsonl", [{"type": "echo", "payload": "x"}])
    for args, option in (
            (["--max-frame", "100"], "--max-frame"),
            (["--max-frame", str(64 * MIB + 1)], "--max-frame"),
            (["--max-frame", "lots"], "--max-frame"),
            (["--max-line", "10"], "--max-line"),
            (["--max-payload", "-1"], "--max-payload"),
            (["--max-payload", str(5 * MIB), "--max-frame", str(4 * MIB)], "--max-payload"),
            (["--generate", "1", "--payload-size", "100", "--max-payload", "10"],
             "--max-payload")):
        argv = [env.master_bin] + ([] if "--generate" in args else [job]) + args
        p = env.run("master", argv, h.scaled(10))
        h.check_eq(p.poll(), 2, "exit status of taskmill-master %s" % " ".join(args))
        h.check(option in p.stderr(), "%s: stderr does not name %s: %s"
                % (" ".join(args), option, p.stderr()[-300:]))
    for args, option in (
            (["--max-output", "-1"], "--max-output"),
            (["--max-output", str(64 * MIB)], "--max-output"),
            (["--max-frame", "1"], "--max-frame"),
            (["--max-output", str(4 * MIB), "--max-frame", str(4 * MIB)], "--max-output")):
        p = env.run("worker", [env.worker_bin, h.HOST] + args, h.scaled(10))
        h.check_eq(p.poll(), 2, "exit status of taskmill-worker %s" % " ".join(args))
        h.check(option in p.stderr(), "%s: stderr does not name %s: %s"
                % (" ".join(args), option, p.stderr()[-300:]))


def test_a_payload_over_max_payload_is_an_error_naming_its_line(env):
    ports = h.Ports()
    job = env.write_job("job.jsonl", [{"type": "echo", "payload": "0123456789"},
                                      {"type": "echo", "payload": "short"},
                                      {"type": "echo", "payload": "0123456789x"}])
    master = env.start_master(ports, job, out=env.path("out.jsonl"),
                              extra=["--max-payload", "10", "--quiet"])
    h.check_eq(master.wait_exit(h.scaled(10), "master"), 2, "master exit status")
    expected = "line 3: payload of 11 bytes is over the limit of 10 (--max-payload)"
    h.check(expected in master.stderr(), "stderr lacks %r: %s" % (expected, master.stderr()[-500:]))


def test_an_output_over_max_output_is_cut_to_it(env):
    ports = h.Ports()
    out = env.path("out.jsonl")
    job = env.write_job("job.jsonl", [{"id": "t%d" % i, "type": "echo", "payload": "0123456789"}
                                      for i in range(20)])
    master = env.start_master(ports, job, out=out, extra=["--quiet"])
    env.start_worker(ports, extra=["--max-output", "4", "--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, 20)
    for r in results:
        h.check_eq((r["status"], h.output_bytes(r)), ("ok", b"0123"), "result of %s" % r["id"])


def test_a_frame_over_the_masters_max_frame_drops_its_connection(env):
    ports = h.Ports()
    out = env.path("out.jsonl")
    job = env.write_job("job.jsonl", [{"id": "t%d" % i, "type": "echo", "payload": "p"}
                                      for i in range(20)])
    master = env.start_master(ports, job, out=out, extra=["--max-frame", str(4 * MIB), "--quiet"])
    h.wait_for(lambda: h.is_listening(ports.results), h.scaled(10), "the results port")
    peer = h.ZmtpPeer(ports.results, b"PUSH")
    try:
        peer.send_raw(peer.frame(b"r" * (4 * MIB + 1)))
    except OSError:
        pass        #  dropped while sending: what the limit is for
    dropped = h.eventually(peer.closed_by_peer, h.scaled(5))
    peer.close()
    h.check(dropped, "the master kept a connection that sent a frame over --max-frame")
    #  Frames under it still pass: workers with the same --max-frame run the job.
    env.start_worker(ports, extra=["--max-frame", str(4 * MIB), "--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), 20)


if __name__ == "__main__":
    h.main([test_bad_limit_values_are_exit_2_naming_the_option,
            test_a_payload_over_max_payload_is_an_error_naming_its_line,
            test_an_output_over_max_output_is_cut_to_it,
            test_a_frame_over_the_masters_max_frame_drops_its_connection], __doc__)

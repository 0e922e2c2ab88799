"""Shared helpers for the process-level integration tests of taskmill.

Each tests/process/test_*.py is a standalone script run by ctest as

    python3 tests/process/test_X.py --master PATH/taskmill-master --worker PATH/taskmill-worker

It starts the real binaries on loopback TCP (explicit free ports, never the
defaults), prints one line per test ("ok - name", "not ok - name: reason",
or "ok - name # SKIP reason") and ends with the line "N passed, M failed";
the exit status is 0 only if nothing failed.

Rules the helpers enforce:
- no bare sleeps: wait_for() polls a predicate until a deadline and fails
  with a message saying what it waited for;
- every process is started in its own session (process group), with its
  stdout and stderr in files of the test's temp dir, and is stopped and reaped
  when its test ends (pass or fail), at interpreter exit, and by the kernel if
  this script dies (PR_SET_PDEATHSIG);
- a process whose stderr holds "dangling" (czmq's leaked-socket warning) or
  a sanitizer report fails its test; the stderr of every process of a failed
  test is printed (as "# " comment lines).

Required besides the standard library, from Debian; deploy/install-deps.sh
installs them, and a missing one is a failure, not a skip (main() fails the
setup without pyzmq or python3-protobuf, proto() the test without protoc):
pyzmq (python3-zmq) for the ZeroMQ sockets that play masters and workers,
and python3-protobuf with protoc (protobuf-compiler), which proto() runs on
proto/taskmill.proto, to build and read every well-formed message. ZMTP
written by hand (ZmtpPeer, ZmtpServerConn, ZmtpListener) is only for what
pyzmq cannot send: broken handshakes, frame headers without their body, and
frames towards a PUSH socket.
"""

import argparse
import atexit
import base64
import collections
import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

#  Required (deploy/install-deps.sh installs them); main() fails the setup
#  of a script without them.
try:
    import zmq                  # python3-zmq
    import zmq.utils.monitor
except ImportError:
    zmq = None
try:
    from google.protobuf.message import DecodeError     # python3-protobuf
except ImportError:
    DecodeError = None

sys.dont_write_bytecode = True

HOST = "127.0.0.1"

#  Lines in a process's stderr that fail the test that ran it.
BAD_STDERR = [
    (re.compile(r"dangling", re.I), "czmq reports dangling (leaked) sockets"),
    (re.compile(r"ERROR: AddressSanitizer"), "AddressSanitizer report"),
    (re.compile(r"ERROR: LeakSanitizer"), "LeakSanitizer report"),
    (re.compile(r"runtime error:"), "UndefinedBehaviorSanitizer report"),
    (re.compile(r"WARNING: ThreadSanitizer"), "ThreadSanitizer report"),
]

#  Whole-script safety net: the ctest timeout is 240 s; stop well before so
#  that everything is torn down cleanly and the output says why.
SCRIPT_DEADLINE_S = 200


class TestFailure(Exception):
    """An assertion of a test failed; the message says what and why."""


class TestSkip(Exception):
    """The test cannot run here (e.g. an optional module is missing)."""


def fail(message):
    raise TestFailure(message)


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise TestFailure("%s: expected %s, got %s" % (what, short(expected), short(actual)))


def short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


# --------------------------------------------------------------------------
#  Time

_time_scale = float(os.environ.get("TASKMILL_TEST_TIME_SCALE", "0") or 0)


def time_scale():
    """Factor for deadlines that depend on the speed of the binaries (1 for a
    normal build, 3 for a sanitizer build; TASKMILL_TEST_TIME_SCALE overrides)."""
    return _time_scale or 1.0


def scaled(seconds):
    return seconds * time_scale()


def _detect_time_scale(binaries):
    global _time_scale
    if _time_scale:
        return
    _time_scale = 1.0
    for path in binaries:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"__asan_init" in data or b"__tsan_init" in data or b"__ubsan_handle" in data:
            _time_scale = 3.0


def wait_for(predicate, timeout, what, interval=0.03):
    """Polls predicate() every `interval` seconds until it returns something
    true (which is returned) or `timeout` seconds pass (TestFailure naming
    `what`). Exceptions from predicate propagate."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            fail("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def eventually(predicate, timeout, interval=0.03):
    """Like wait_for but returns False at the deadline instead of failing
    (for observations that are reported, not asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def holds_for(predicate, duration, interval=0.03):
    """True if predicate() stays true for `duration` seconds (checked every
    `interval`); False as soon as it is false. For asserting that something
    does NOT happen within a window (e.g. a draining worker does not exit)."""
    deadline = time.monotonic() + duration
    while True:
        if not predicate():
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(interval)


# --------------------------------------------------------------------------
#  Ports

_handed_out = set()


def _port_range():
    """Ports below the kernel's ephemeral range: never picked as the source
    port of an outgoing connection, so a port we chose cannot be taken by a
    worker's reconnect attempt before the master binds it."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    if low > 12000:
        return 10000, low - 1
    return 61000, 65000   # odd local config: above the range


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(count):
    low, high = _port_range()
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    ports = []
    for _ in range(10000):
        if len(ports) == count:
            return ports
        port = rng.randint(low, high)
        if port in _handed_out or not _port_free(port):
            continue
        _handed_out.add(port)
        ports.append(port)
    fail("could not find %d free TCP ports on %s" % (count, HOST))


def free_port_run(count):
    """The first of count consecutive free ports, for a script that takes a
    base port (deploy/local-cluster.sh)."""
    low, high = _port_range()
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(1000):
        base = rng.randint(low, high - count)
        run = range(base, base + count)
        if not any(p in _handed_out for p in run) and all(_port_free(p) for p in run):
            _handed_out.update(run)
            return base
    fail("could not find %d consecutive free TCP ports on %s" % (count, HOST))


class Ports:
    """The four master endpoints of one cluster."""

    def __init__(self):
        self.tasks, self.results, self.control, self.admin = free_ports(4)

    @staticmethod
    def ep(port):
        return "tcp://%s:%d" % (HOST, port)

    def master_args(self):
        return ["--bind-tasks", self.ep(self.tasks), "--bind-results", self.ep(self.results),
                "--bind-control", self.ep(self.control), "--bind-admin", self.ep(self.admin)]

    def worker_args(self):
        return [HOST, "--tasks", self.ep(self.tasks), "--results", self.ep(self.results),
                "--control", self.ep(self.control)]

    def __repr__(self):
        return "Ports(tasks=%d, results=%d, control=%d, admin=%d)" % (
            self.tasks, self.results, self.control, self.admin)


# --------------------------------------------------------------------------
#  /proc helpers: who is connected to what

def _proc_net_tcp():
    """Rows of /proc/net/tcp as dicts: local/remote (ip, port), state (int),
    tx_queue, rx_queue, inode."""
    rows = []
    try:
        with open("/proc/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return rows
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue

        def addr(text):
            ip, port = text.split(":")
            return socket.inet_ntoa(bytes.fromhex(ip)[::-1]), int(port, 16)
        tx, rx = fields[4].split(":")
        rows.append({"local": addr(fields[1]), "remote": addr(fields[2]),
                     "state": int(fields[3], 16), "tx_queue": int(tx, 16),
                     "rx_queue": int(rx, 16), "inode": int(fields[9])})
    return rows


TCP_ESTABLISHED = 1
TCP_LISTEN = 10


def _socket_inodes(pid):
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def connected_pids(port, pids):
    """The subset of pids that hold an ESTABLISHED TCP connection to
    127.0.0.1:port."""
    inodes = {r["inode"] for r in _proc_net_tcp()
              if r["state"] == TCP_ESTABLISHED and r["remote"] == (HOST, port)}
    return {pid for pid in pids if _socket_inodes(pid) & inodes}


def is_listening(port):
    return any(r["state"] == TCP_LISTEN and r["local"][1] == port
               and r["local"][0] in (HOST, "0.0.0.0") for r in _proc_net_tcp())


def connect(port, timeout=5.0):
    """A TCP connection to 127.0.0.1:port. The master binds its control
    socket again when a peer sends it junk (master/control.h), which leaves
    the port closed for a few milliseconds: a refused connect is tried again
    until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((HOST, port), timeout=timeout)
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def child_pids(pid):
    """Direct children of pid (any thread)."""
    children = set()
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    children.update(int(c) for c in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    if children:
        return children
    #  Fallback when /proc/PID/task/TID/children is unavailable.
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            children.add(int(entry))
    return children


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def wait_for_connect_attempts(port, pids, timeout):
    """Listens on 127.0.0.1:port itself (before any master binds it) until
    every pid in pids has connected to it, then resets those connections and
    closes the listener. Proves the processes are up and dialling that port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(64)
    listener.setblocking(False)
    accepted = []
    seen = set()
    try:
        def all_seen():
            while True:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    break
                accepted.append(conn)
            seen.update(connected_pids(port, set(pids) - seen))
            return seen >= set(pids)
        wait_for(all_seen, timeout, "processes %s to dial port %d (seen: %s)"
                 % (sorted(pids), port, sorted(seen)))
    finally:
        for conn in accepted:
            _reset_close(conn)
        listener.close()


def _reset_close(sock):
    """Closes with RST (SO_LINGER 0) so that no TIME_WAIT is left on our side."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


# --------------------------------------------------------------------------
#  Processes

_all_procs = []
_libc = None


def _pdeathsig():
    """preexec_fn: have the kernel SIGKILL the child if this script dies."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """One started binary: its own process group, stdout/stderr in files."""

    def __init__(self, name, argv, workdir, stdin_data=None, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.rc = None
        self.signals_sent = []
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=out, stderr=err, cwd=workdir, start_new_session=True,
                preexec_fn=_pdeathsig, env=env)
        finally:
            out.close()
            err.close()
        self.pid = self.popen.pid
        _all_procs.append(self)
        if stdin_data is not None:
            try:
                self.popen.stdin.write(stdin_data)
            except BrokenPipeError:
                pass
            finally:
                try:
                    self.popen.stdin.close()
                except BrokenPipeError:
                    pass

    def alive(self):
        return self.popen.poll() is None

    def poll(self):
        self.rc = self.popen.poll()
        return self.rc

    def signal(self, sig):
        self.signals_sent.append(sig)
        self.popen.send_signal(sig)

    def wait_exit(self, timeout, what=None):
        """Waits up to timeout seconds; returns the exit status (negative:
        killed by that signal). Fails the test if it is still running."""
        try:
            self.rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("%s did not exit within %.1f s" % (what or self.name, timeout))
        return self.rc

    def exited_within(self, timeout):
        """Like wait_exit but returns None instead of failing."""
        try:
            self.rc = self.popen.wait(timeout=timeout)
            return self.rc
        except subprocess.TimeoutExpired:
            return None

    def stdout(self):
        return _read_text(self.stdout_path)

    def stdout_bytes(self):
        with open(self.stdout_path, "rb") as f:
            return f.read()

    def stderr(self):
        return _read_text(self.stderr_path)

    def stop(self, grace=5.0):
        """Stops the process group: SIGTERM, then a second SIGTERM, then
        SIGKILL; always reaps. Returns the exit status."""
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    self.popen.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.kill_group()
        try:
            self.rc = self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return self.rc

    def kill_group(self):
        """SIGKILL whatever is left in the process group (e.g. exec children)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def bad_stderr(self):
        """Descriptions of the forbidden lines in stderr."""
        problems = []
        for line in self.stderr().splitlines():
            for pattern, what in BAD_STDERR:
                if pattern.search(line):
                    problems.append("%s: %s" % (what, line.strip()[:200]))
        return problems

    def describe(self):
        return "%s (pid %d): %s" % (self.name, self.pid, " ".join(self.argv))


def stop_all(procs, grace=3.0):
    """Stops several processes at once (in parallel, so that a worker
    lingering to deliver results to a master that is gone costs its grace
    once, not once per worker): SIGTERM (drain), after `grace` s a second
    SIGTERM (exit at once), after 2 s more SIGKILL; kills what is left of
    each process group and reaps."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        alive = [p for p in procs if p.popen.poll() is None]
        if not alive:
            break
        for p in alive:
            try:
                os.killpg(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        for p in alive:
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for p in procs:
        p.kill_group()
        try:
            p.rc = p.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _kill_everything():
    for p in _all_procs:
        if p.popen.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        p.kill_group()
        try:
            p.popen.wait(timeout=5)
        except Exception:
            pass


atexit.register(_kill_everything)


# --------------------------------------------------------------------------
#  Per-test environment

class Env:
    """What one test function gets: a temp dir, the binaries, process
    starters; everything it starts is stopped when the test ends."""

    def __init__(self, master_bin, worker_bin, name):
        self.master_bin = master_bin
        self.worker_bin = worker_bin
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="taskmill-%s-" % name)
        self.procs = []
        self.stray_pids = set()
        self.notes = []
        self._counter = collections.Counter()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def note(self, text):
        """A line printed (as a comment) whatever the outcome."""
        self.notes.append(text)

    def _proc_name(self, base):
        self._counter[base] += 1
        n = self._counter[base]
        return base if n == 1 else "%s-%d" % (base, n)

    def start(self, base, argv, stdin_data=None):
        p = Proc(self._proc_name(base), argv, self.tmp, stdin_data=stdin_data)
        self.procs.append(p)
        return p

    def start_master(self, ports, job=None, out=None, summary=None, extra=(), name="master",
                     stdin_data=None):
        argv = [self.master_bin]
        if job is not None:
            argv.append(job)
        if out is not None:
            argv += ["--out", out]
        if summary is not None:
            argv += ["--summary", summary]
        if ports is not None:
            argv += ports.master_args()
        argv += list(extra)
        return self.start(name, argv, stdin_data=stdin_data)

    def start_worker(self, ports, extra=(), threads=2, name="worker"):
        argv = [self.worker_bin] + ports.worker_args()
        if threads is not None:
            argv += ["--threads", str(threads)]
        argv += list(extra)
        return self.start(name, argv)

    def run(self, base, argv, timeout, stdin_data=None):
        """Starts a process and waits for it to exit; returns the Proc."""
        p = self.start(base, argv, stdin_data=stdin_data)
        p.wait_exit(timeout)
        return p

    def write_job(self, name, tasks):
        """Writes a job file: each task is a dict (one JSON line) or a str
        (written as is, for malformed lines)."""
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as f:
            for t in tasks:
                f.write(t if isinstance(t, str) else json.dumps(t, ensure_ascii=False))
                f.write("\n")
        return path

    def kill_at_cleanup(self, pids):
        """Processes not started by us (e.g. a worker's exec children, which
        may live in their own process groups) to kill when the test ends."""
        self.stray_pids.update(pids)

    def cleanup(self):
        """Stops every process (workers first: they may still be draining)
        and returns the forbidden stderr lines found."""
        problems = []
        stop_all(self.procs)
        for pid in self.stray_pids:
            if pid_alive(pid):
                try:
                    if os.getpgid(pid) == pid:
                        os.killpg(pid, signal.SIGKILL)
                    else:
                        os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for p in self.procs:
            for problem in p.bad_stderr():
                problems.append("%s: %s" % (p.name, problem))
        return problems

    def diagnostics(self, tail_lines=40):
        lines = []
        for p in self.procs:
            lines.append("--- %s, exit status %s" % (p.describe(), p.popen.returncode))
            err = p.stderr().splitlines()
            if len(err) > tail_lines:
                lines.append("    (%d earlier stderr lines not shown)" % (len(err) - tail_lines))
            for l in err[-tail_lines:]:
                lines.append("    " + l)
        return lines

    def remove(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
#  Results and summary

def read_results_text(text, source):
    results = []
    #  split on "\n" only: str.splitlines() would also split at U+2028 etc.,
    #  which may legitimately appear unescaped inside JSON strings.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            fail("%s line %d is not JSON (%s): %s" % (source, n, e, short(line)))
        if not isinstance(r, dict):
            fail("%s line %d is not a JSON object: %s" % (source, n, short(line)))
        results.append(r)
    return results


def read_results(path):
    check(os.path.exists(path), "results file %s was not written" % path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("results file %s is not valid UTF-8: %s" % (path, e))
    return read_results_text(text, "results file")


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.endswith(b"\n"))
    except OSError:
        return 0


def complete_lines(path):
    """The complete (newline-terminated) lines of a file being written."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    lines = data.split(b"\n")[:-1]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def check_exactly_once(results, n):
    """Every seq 1..n exactly once, nothing else; returns {seq: result}."""
    by_seq = {}
    dups = []
    bad = []
    for r in results:
        seq = r.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            bad.append(r)
            continue
        if seq in by_seq:
            dups.append(seq)
        by_seq[seq] = r
    check(not bad, "%d results without an integer seq, e.g. %s" % (len(bad), short(bad[:2])))
    check(not dups, "%d seqs appear more than once, e.g. %s" % (len(dups), sorted(dups)[:10]))
    missing = [s for s in range(1, n + 1) if s not in by_seq]
    extra = sorted(s for s in by_seq if not 1 <= s <= n)
    check(not missing, "%d of %d seqs missing from results, e.g. %s" % (len(missing), n, missing[:10]))
    check(not extra, "results hold seqs outside 1..%d: %s" % (n, extra[:10]))
    check_eq(len(results), n, "number of result lines")
    return by_seq


def check_result_shape(r):
    """Field types and the output/output_b64/error rules of one result line."""
    for key, types in (("seq", int), ("id", str), ("type", str), ("status", str),
                       ("attempts", int), ("worker", str), ("duration_us", int)):
        check(key in r, "result lacks %r: %s" % (key, short(r)))
        check(isinstance(r[key], types) and not isinstance(r[key], bool),
              "result field %r has the wrong type: %s" % (key, short(r)))
    check(r["status"] in ("ok", "failed", "timeout", "no_handler", "rejected"),
          "unknown status %r in %s" % (r["status"], short(r)))
    check(r["attempts"] >= 1, "attempts < 1 in %s" % short(r))
    check(r["duration_us"] >= 0, "negative duration_us in %s" % short(r))
    check(not ("output" in r and "output_b64" in r), "both output and output_b64 in %s" % short(r))
    if r["status"] == "ok":
        check("error" not in r, "ok result carries an error: %s" % short(r))
    else:
        check(isinstance(r.get("error"), str), "not-ok result without an error string: %s" % short(r))


def output_bytes(r):
    """The output of a result as bytes (b'' when there is none)."""
    if "output_b64" in r:
        check(isinstance(r["output_b64"], str), "output_b64 is not a string: %s" % short(r))
        try:
            data = base64.b64decode(r["output_b64"], validate=True)
        except ValueError:
            fail("output_b64 is not valid base64: %s" % short(r))
        try:
            data.decode("utf-8")
            fail("output_b64 used for output that is valid UTF-8: %s" % short(r))
        except UnicodeDecodeError:
            pass
        return data
    out = r.get("output", "")
    check(isinstance(out, str), "output is not a string: %s" % short(r))
    return out.encode("utf-8")


def read_summary(path):
    check(os.path.exists(path), "summary file %s was not written" % path)
    try:
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
    except ValueError as e:
        fail("summary %s is not JSON: %s" % (path, e))
    check(isinstance(s, dict), "summary is not a JSON object")
    return s


def nonzero(d):
    return {k: v for k, v in d.items() if v}


def check_summary(summary, results, exit_status, n_workers=None):
    """The summary agrees with the results file."""
    s = summary
    check_eq(s.get("tasks"), len(results), "summary tasks")
    statuses = collections.Counter(r["status"] for r in results)
    check(isinstance(s.get("by_status"), dict), "summary lacks by_status: %s" % short(s))
    check_eq(nonzero(s["by_status"]), dict(statuses), "summary by_status")
    by_type = collections.defaultdict(collections.Counter)
    for r in results:
        by_type[r["type"]][r["status"]] += 1
    check(isinstance(s.get("by_type"), dict), "summary lacks by_type: %s" % short(s))
    got = {t: nonzero(c) for t, c in s["by_type"].items() if nonzero(c)}
    check_eq(got, {t: dict(c) for t, c in by_type.items()}, "summary by_type")
    #  A task the master gave up on (no worker ever answered) has no worker.
    workers = collections.Counter(r["worker"] for r in results if "worker" in r)
    check(isinstance(s.get("workers"), dict), "summary lacks workers: %s" % short(s))
    check_eq(nonzero(s["workers"]), dict(workers), "summary workers (against the results' worker fields)")
    if n_workers is not None:
        check_eq(len(nonzero(s["workers"])), n_workers, "number of workers in the summary")
    check_eq(sum(s["workers"].values()), sum(workers.values()), "sum of summary workers counts")
    check_eq(s.get("exit_status"), exit_status, "summary exit_status")
    check(isinstance(s.get("job_id"), str) and s["job_id"], "summary job_id missing or empty")
    for key in ("retries", "duplicates_dropped", "stale_dropped", "garbage_dropped"):
        check(isinstance(s.get(key), int) and s[key] >= 0, "summary %s missing or negative: %s"
              % (key, short(s.get(key))))
    retried = sum(r["attempts"] - 1 for r in results)
    check(s["retries"] >= retried, "summary retries %d < sum of (attempts - 1) %d"
          % (s["retries"], retried))
    for key in ("elapsed_s", "tasks_per_s"):
        check(isinstance(s.get(key), (int, float)) and s[key] >= 0, "summary %s missing: %s"
              % (key, short(s.get(key))))
    lat = s.get("latency_us")
    check(isinstance(lat, dict), "summary lacks latency_us")
    vals = [lat.get(k) for k in ("p50", "p90", "p99", "max")]
    check(all(isinstance(v, (int, float)) for v in vals), "latency_us incomplete: %s" % short(lat))
    check(vals == sorted(vals), "latency percentiles not ordered: %s" % short(lat))
    #  The report: every final result is a worker's or the master's, and
    #  counted once in the throughput buckets; each duration's percentiles.
    check_eq(sum(s["workers"].values()) + s.get("no_worker", -1), s["tasks"],
             "summary workers + no_worker against tasks")
    check_eq(sorted(s["busy_s"]["by_worker"]), sorted(s["workers"]), "summary busy_s.by_worker keys")
    check_eq(sorted(s["busy_s"]["by_type"]), sorted(s["by_type"]), "summary busy_s.by_type keys")
    throughput = s.get("throughput") or {}
    check_eq(sum(throughput.get("counts", [-1])), s["tasks"], "sum of summary throughput counts")
    check(len(throughput["counts"]) <= 256, "throughput has %d buckets" % len(throughput["counts"]))
    for key in ("queue_wait_us", "run_time_us"):
        vals = [(s.get(key) or {}).get(k) for k in ("p50", "p90", "p99", "max")]
        check(all(isinstance(v, int) for v in vals) and vals == sorted(vals),
              "summary %s: %s" % (key, short(s.get(key))))


def worker_pid(worker_field):
    """The pid part of a "host/pid" worker id, or None."""
    _, _, pid = worker_field.rpartition("/")
    return int(pid) if pid.isdigit() else None


def per_worker(results):
    """Results per worker, sorted by worker id."""
    return dict(sorted(collections.Counter(r.get("worker") for r in results).items(),
                       key=lambda kv: str(kv[0])))


def check_all_ok(results, what):
    bad = [r for r in results if r.get("status") != "ok"]
    check(not bad, "%s: %d tasks not ok (%s), e.g. %s"
          % (what, len(bad), dict(collections.Counter(r.get("status") for r in bad)),
             short(bad[:3])))


def summary_counters(summary):
    """The summary's counters of what went again, for a note."""
    s = summary or {}
    return "reissued %s retries %s leases_expired %s duplicates_dropped %s" % (
        s.get("reissued"), s.get("retries"), s.get("leases_expired"), s.get("duplicates_dropped"))


class ResultsTail:
    """Reads a results file as the master appends to it, a little at a time
    (only the bytes added since the last poll): the highest seq written so
    far and the count of results of each worker."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.max_seq = 0
        self.by_worker = collections.Counter()

    def poll(self):
        """The results completed since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        new = []
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            new.append(r)
            if isinstance(r.get("seq"), int):
                self.max_seq = max(self.max_seq, r["seq"])
            self.by_worker[r.get("worker")] += 1
        return new


# --------------------------------------------------------------------------
#  Runner

def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--master", required=True, help="path of taskmill-master")
    ap.add_argument("--worker", required=True, help="path of taskmill-worker")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    ap.add_argument("tests", nargs="*", help="run only these tests (names)")
    return ap.parse_args()


class ScriptDeadline(TestFailure):
    """The whole script ran too long; the remaining tests are not run."""


def _on_script_deadline(signum, frame):
    raise ScriptDeadline("the test script ran past its %d s safety deadline" % SCRIPT_DEADLINE_S)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main(tests, description=""):
    """Runs test functions fn(env) in order and exits with the TAP-ish report."""
    args = parse_args(description)
    for path in (args.master, args.worker):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print("not ok - setup: %s is not an executable file" % path)
            print("0 passed, 1 failed")
            sys.exit(1)
    for module, package in ((zmq, "python3-zmq"), (DecodeError, "python3-protobuf")):
        if module is None:
            print("not ok - setup: %s is not installed (deploy/install-deps.sh installs it)" % package)
            print("0 passed, 1 failed")
            sys.exit(1)
    _detect_time_scale([args.master, args.worker])
    if time_scale() != 1.0:
        print("# time scale %.1f (sanitizer build or TASKMILL_TEST_TIME_SCALE)" % time_scale())
    signal.signal(signal.SIGALRM, _on_script_deadline)
    signal.alarm(SCRIPT_DEADLINE_S)
    #  ctest or a user interrupting us: unwind so everything gets cleaned up.
    signal.signal(signal.SIGTERM, _on_sigterm)

    passed = failed = skipped = 0
    aborted = None
    selected = [t for t in tests if not args.tests or t.__name__ in args.tests]
    for fn in selected:
        name = fn.__name__
        if aborted:
            failed += 1
            print("not ok - %s: not run (%s)" % (name, aborted))
            continue
        env = Env(os.path.abspath(args.master), os.path.abspath(args.worker), name)
        started = time.monotonic()
        reason = None
        skip = None
        try:
            fn(env)
        except TestSkip as e:
            skip = str(e)
        except ScriptDeadline as e:
            reason = aborted = str(e)
        except TestFailure as e:
            reason = str(e)
        except KeyboardInterrupt:
            reason = aborted = "interrupted"
        except Exception:
            reason = "exception: " + traceback.format_exc().strip().replace("\n", "\n#   ")
        try:
            problems = env.cleanup()
        except TestFailure as e:
            problems = [str(e)]
        except KeyboardInterrupt:
            _kill_everything()
            problems = []
            reason = aborted = "interrupted"
        if problems and reason is None:
            reason = "; ".join(problems[:5])
        elapsed = time.monotonic() - started
        if reason is None and skip is not None:
            skipped += 1
            print("ok - %s # SKIP %s" % (name, skip))
        elif reason is None:
            passed += 1
            print("ok - %s" % name)
            print("#   %.1f s" % elapsed)
        else:
            failed += 1
            print("not ok - %s: %s" % (name, reason.replace("\n", " ")))
            print("#   after %.1f s; temp dir %s" % (elapsed, env.tmp))
            for line in env.diagnostics():
                print("#   " + line)
        for line in env.notes:
            print("#   " + line)
        sys.stdout.flush()
        if not args.keep:
            env.remove()
    signal.alarm(0)
    if skipped:
        print("# %d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)


# --------------------------------------------------------------------------
#  ZMTP 3.0 (NULL mechanism) written by hand, for what pyzmq cannot send:
#  broken greetings and handshakes, frame headers without their body, and
#  frames towards a PUSH socket (which only a PULL may be paired with, and a
#  PULL does not send). Well-formed messages go through pyzmq.

ZMTP_SIGNATURE = b"\xff" + b"\x00" * 8 + b"\x7f"


def zmtp_greeting(mechanism=b"NULL", major=3, minor=0):
    return ZMTP_SIGNATURE + bytes([major, minor]) + mechanism.ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


class ZmtpPeer:
    """Connects to 127.0.0.1:port and completes a ZMTP 3.0 NULL handshake as
    `socket_type` (e.g. b"PUSH"). Raises TestFailure if the peer does not
    speak ZMTP 3 with the NULL mechanism."""

    def __init__(self, port, socket_type, timeout=5.0):
        self.sock = connect(port, timeout)
        self.sock.sendall(zmtp_greeting())
        peer = self._recv_exact(64)
        check(peer[0] == 0xFF and peer[9] & 1, "port %d did not answer with a ZMTP signature: %r"
              % (port, peer[:10]))
        check(peer[10] >= 3, "port %d speaks ZMTP %d, not 3" % (port, peer[10]))
        check(peer[12:16] == b"NULL", "port %d uses mechanism %r (expected NULL)" % (port, peer[12:32]))
        self.send_command(b"READY", [(b"Socket-Type", socket_type)])
        flags, body = self.recv_frame()
        check(flags & 0x04 and body[:6] == b"\x05READY",
              "port %d did not send READY: flags %#x body %r" % (port, flags, body[:40]))

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                fail("ZMTP peer closed the connection during the handshake (got %r)" % data)
            data += chunk
        return data

    @staticmethod
    def frame(body, more=False, command=False):
        flags = (0x01 if more else 0) | (0x04 if command else 0)
        if len(body) > 255:
            return bytes([flags | 0x02]) + len(body).to_bytes(8, "big") + body
        return bytes([flags, len(body)]) + body

    def send_command(self, name, properties=()):
        body = bytes([len(name)]) + name
        for key, value in properties:
            body += bytes([len(key)]) + key + len(value).to_bytes(4, "big") + value
        self.sock.sendall(self.frame(body, command=True))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        flags = self._recv_exact(1)[0]
        if flags & 0x02:
            size = int.from_bytes(self._recv_exact(8), "big")
        else:
            size = self._recv_exact(1)[0]
        return flags, self._recv_exact(size)

    def closed_by_peer(self):
        """True once the peer has closed or reset the connection."""
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(65536)
            return data == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
#  The server side of ZMTP 3.0 (NULL mechanism): a stand-in for a master's
#  bound socket, for broken handshakes at a real worker and for frames sent
#  to its results PUSH.

def _zmtp_server_greeting():
    greeting = zmtp_greeting()
    return greeting[:32] + b"\x01" + greeting[33:]      # as-server = 1


def zmtp_parse_properties(data):
    """The properties of a READY command body (after its name)."""
    props = {}
    pos = 0
    while pos < len(data):
        size = data[pos]
        name = data[pos + 1:pos + 1 + size]
        pos += 1 + size
        length = int.from_bytes(data[pos:pos + 4], "big")
        props[name] = data[pos + 4:pos + 4 + length]
        pos += 4 + length
    return props


class ZmtpServerConn(ZmtpPeer):
    """One accepted TCP connection after a ZMTP 3.0 NULL handshake in which we
    are `socket_type` (e.g. b"PULL"); ZmtpPeer's framing, but reads are
    non-blocking and buffered: poll() parses what has arrived into messages
    (lists of frames), skipping commands."""

    def __init__(self, sock, socket_type, timeout, expect_peer=None):
        self.sock = sock
        self.closed = False
        self.messages = []
        self._buf = b""
        self._parts = []
        self.local_port = sock.getsockname()[1]
        self.peer_port = sock.getpeername()[1]
        sock.settimeout(timeout)
        try:
            sock.sendall(_zmtp_server_greeting())
            peer = self._recv_exact(64)
            check(peer[0] == 0xFF and peer[9] & 1 and peer[10] >= 3,
                  "the peer did not send a ZMTP 3 greeting: %r" % peer[:12])
            check(peer[12:16] == b"NULL", "the peer uses mechanism %r" % peer[12:32])
            self.send_command(b"READY", [(b"Socket-Type", socket_type)])
            flags, body = self.recv_frame()
        except (socket.timeout, OSError) as e:
            fail("ZMTP handshake on port %d failed: %s" % (self.local_port, e))
        check(flags & 0x04 and body[:6] == b"\x05READY", "the peer did not send READY: %r" % body[:40])
        self.peer_properties = zmtp_parse_properties(body[6:])
        self.peer_type = self.peer_properties.get(b"Socket-Type")
        if expect_peer is not None:
            check_eq(self.peer_type, expect_peer, "peer Socket-Type on port %d" % self.local_port)
        sock.settimeout(0.0)

    def send_raw(self, data, timeout=10.0):
        """Sends bytes as they are; returns False if the peer has closed."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False
        finally:
            self.sock.settimeout(0.0)

    def send(self, *frames):
        """One message of one or more frames."""
        return self.send_raw(b"".join(self.frame(f, more=i < len(frames) - 1)
                                      for i, f in enumerate(frames)))

    def poll(self):
        """Reads what has arrived; returns the number of new messages."""
        before = len(self.messages)
        while not self.closed:
            try:
                chunk = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.closed = True
                break
            if not chunk:
                self.closed = True
                break
            self._buf += chunk
        self._parse()
        return len(self.messages) - before

    def _parse(self):
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 2:
            flags = buf[pos]
            head = 9 if flags & 0x02 else 2
            if len(buf) - pos < head:
                break
            size = int.from_bytes(buf[pos + 1:pos + head], "big")
            if len(buf) - pos < head + size:
                break
            body = buf[pos + head:pos + head + size]
            pos += head + size
            if flags & 0x04:
                continue
            self._parts.append(body)
            if not flags & 0x01:
                self.messages.append(self._parts)
                self._parts = []
        self._buf = buf[pos:]

    def closed_by_peer(self):
        self.poll()
        return self.closed

    def close(self):
        _reset_close(self.sock)


class ZmtpListener:
    """A listening TCP socket on 127.0.0.1:port that accepts the
    connections a worker dials, raw or with a ZMTP handshake as
    `socket_type`; every connection it handed out is closed by close().
    `port`: one chosen by the test (default: a free one)."""

    def __init__(self, socket_type, expect_peer=None, port=None):
        self.socket_type = socket_type
        self.expect_peer = expect_peer
        self.port = port or free_ports(1)[0]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, self.port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.conns = []         # ZmtpServerConn, in order of acceptance
        self.raw = []           # raw sockets handed out

    def accept_raw(self, timeout, what="a connection"):
        def attempt():
            try:
                conn, _ = self.sock.accept()
                return conn
            except (BlockingIOError, InterruptedError):
                return None
        conn = wait_for(attempt, timeout, "%s on port %d" % (what, self.port))
        conn.setblocking(True)
        self.raw.append(conn)
        return conn

    def accept(self, timeout, what="a ZMTP connection"):
        """Accepts the next connection and completes the handshake."""
        raw = self.accept_raw(timeout, what)
        conn = ZmtpServerConn(raw, self.socket_type, timeout, self.expect_peer)
        self.conns.append(conn)
        return conn

    def current(self):
        return self.conns[-1]

    def close(self):
        for s in self.raw:
            _reset_close(s)
        self.sock.close()


def tcp_connections(pid, port):
    """The ESTABLISHED connections that process pid holds to 127.0.0.1:port,
    as a set of (local port, remote port, tx_queue, rx_queue) of pid's end."""
    inodes = _socket_inodes(pid)
    return {(r["local"][1], r["remote"][1], r["tx_queue"], r["rx_queue"])
            for r in _proc_net_tcp()
            if r["state"] == TCP_ESTABLISHED and r["remote"] == (HOST, port)
            and r["inode"] in inodes}


def log_count(text, pattern):
    """Lines of text that match a regular expression."""
    rx = re.compile(pattern)
    return sum(1 for line in text.splitlines() if rx.search(line))


# --------------------------------------------------------------------------
#  The wire protocol through the ecosystem's libraries: pyzmq for sockets,
#  python3-protobuf with the .proto compiled by protoc at test time.

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_proto_module = None


def proto():
    """taskmill_pb2, compiled from proto/taskmill.proto into a temp dir once
    per script. Fails (not skips) when protoc or python3-protobuf is
    missing: deploy/install-deps.sh installs both."""
    global _proto_module
    if _proto_module is None:
        import importlib
        out = tempfile.mkdtemp(prefix="taskmill-proto-")
        atexit.register(lambda: __import__("shutil").rmtree(out, ignore_errors=True))
        try:
            subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.join(REPO, "proto"),
                            os.path.join(REPO, "proto", "taskmill.proto")], check=True)
        except FileNotFoundError:
            fail("protoc is not installed (deploy/install-deps.sh installs protobuf-compiler)")
        sys.path.insert(0, out)
        _proto_module = importlib.import_module("taskmill_pb2")
    return _proto_module


#  Serialized envelopes of proto/taskmill.proto, from dicts of fields (as
#  keyword arguments of the taskmill_pb2 message). A body is always set,
#  even when all its fields are at their defaults.

def master_to_worker(tasks=(), version=1, **batch):
    """A MasterToWorker holding a TaskBatch of `tasks` (dicts of Task
    fields); `batch`: the TaskBatch's own fields (number, job_id, ...)."""
    env = proto().MasterToWorker(version=version)
    env.tasks.SetInParent()
    for name, value in batch.items():
        setattr(env.tasks, name, value)
    for t in tasks:
        env.tasks.tasks.add(**t)
    return env.SerializeToString()


def control_message(kind, job_id="", version=1):
    """A ControlMessage (kind: Control.Kind, 1 JOB_START ... 4 SHUTDOWN)."""
    env = proto().ControlMessage(version=version)
    env.control.SetInParent()
    env.control.kind = kind
    env.control.job_id = job_id
    return env.SerializeToString()


def worker_to_master(version=1, results=None, heartbeat=None, credit=None):
    """A WorkerToMaster whose body is a ResultBatch of `results` (dicts of
    Result fields), a Heartbeat or a Credit (a dict of its fields); with
    none of them, the version alone."""
    env = proto().WorkerToMaster(version=version)
    if results is not None:
        env.results.SetInParent()
        for r in results:
            env.results.results.add(**r)
    for body, fields in (("heartbeat", heartbeat), ("credit", credit)):
        if fields is not None:
            part = getattr(env, body)
            part.SetInParent()
            for name, value in fields.items():
                if isinstance(value, (list, tuple)):
                    getattr(part, name).extend(value)
                else:
                    setattr(part, name, value)
    return env.SerializeToString()


def wait_delivered(port, timeout, what):
    """Waits until every connection this process holds to 127.0.0.1:port has
    nothing unsent on our side and nothing unread on the peer's: the peer's
    ZeroMQ I/O thread has read what we sent (pyzmq's I/O threads are ours,
    so /proc/self/fd names their sockets too). Call it once libzmq has
    taken what was sent (see zmq_send_tracked)."""
    def delivered():
        ours = tcp_connections(os.getpid(), port)
        if not ours:
            return False
        rows = _proc_net_tcp()
        for local_port, _, tx, _ in ours:
            if tx:
                return False
            for r in rows:
                if r["local"] == (HOST, port) and r["remote"] == (HOST, local_port) and r["rx_queue"]:
                    return False
        return True
    wait_for(delivered, timeout, what)


def zmq_send_tracked(sock, frames, timeout):
    """Sends one message of `frames` and waits until libzmq has released it
    (written it out, or copied it into the batch it writes next)."""
    for frame in frames[:-1]:
        sock.send(frame, zmq.SNDMORE)
    tracker = sock.send(frames[-1], copy=False, track=True)
    tracker.wait(timeout)


class FakeWorker:
    """A worker played by the test over the real protocol (pyzmq DEALER on
    tasks, PUSH on results): it grants credit, takes batches, and answers
    or holds what it takes, as told."""

    def __init__(self, ports, worker_id, incarnation=None):
        self.zmq = zmq
        self.pb = proto()
        self.ctx = zmq.Context()
        self.worker_id = worker_id
        self.incarnation = incarnation or ("%s-%08x" % (worker_id, random.getrandbits(32)))
        self.tasks = self.ctx.socket(zmq.DEALER)
        self.tasks.setsockopt(zmq.ROUTING_ID, self.incarnation.encode())
        self.tasks.setsockopt(zmq.LINGER, 0)
        self.tasks.connect(Ports.ep(ports.tasks))
        self.results = self.ctx.socket(zmq.PUSH)
        self.results.setsockopt(zmq.LINGER, 1000)
        self.results.connect(Ports.ep(ports.results))
        self.received = []      # Task messages, in arrival order
        self.frames = 0

    def credit(self, window, epoch=1, threads=1):
        env = self.pb.WorkerToMaster(version=1)
        env.credit.worker_id = self.worker_id
        env.credit.credit = window
        env.credit.threads = threads
        env.credit.epoch = epoch
        env.credit.stamp = 1
        self.tasks.send(env.SerializeToString())

    def take(self, count, timeout):
        """Receives batches until count tasks came, within timeout."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            left = deadline - time.monotonic()
            check(left > 0, "fake worker %s got %d tasks, not %d, within %.1f s"
                  % (self.worker_id, len(self.received), count, timeout))
            if self.tasks.poll(int(left * 1000) + 1):
                env = self.pb.MasterToWorker.FromString(self.tasks.recv())
                self.frames += 1
                self.received.extend(env.tasks.tasks)
        return self.received

    def answer(self, tasks, output=b"fake"):
        env = self.pb.WorkerToMaster(version=1)
        for t in tasks:
            r = env.results.results.add()
            r.job_id, r.seq, r.id, r.attempt = t.job_id, t.seq, t.id, t.attempt
            r.status = self.pb.OK
            r.output = output
            r.worker_id = self.worker_id
        self.results.send(env.SerializeToString())

    def heartbeat(self, held, running, job_id, last_batch=None, threads=1):
        env = self.pb.WorkerToMaster(version=1)
        hb = env.heartbeat
        hb.worker_id, hb.host, hb.pid = self.worker_id, "fake", os.getpid()
        hb.threads_total, hb.threads_busy = threads, min(threads, len(running))
        hb.held_seqs.extend(t.seq for t in held)
        hb.running_seqs.extend(t.seq for t in running)
        hb.job_id = job_id
        hb.last_batch = self.frames if last_batch is None else last_batch
        hb.incarnation = self.incarnation
        self.results.send(env.SerializeToString())

    def close(self):
        self.tasks.close(0)
        self.results.close()
        self.ctx.term()

"""Networks of a test's own for the multi-host process tests (issue 11):
Linux network namespaces joined by veth pairs, built with iproute2, and
the taskmill programs started inside them.

Every namespace is named after the running script's pid (tm<pid><suffix>),
so that concurrent runs never meet, and every address exists only on
interfaces inside them: no packet of a test can leave its namespaces, and
nothing is created in the namespace the test runs in. Programs are
started through `ip netns exec`, which execs: the pid the harness signals
is the program's own (start_in() checks that, and the namespace).

Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2. Where `ip netns
add` is refused, or a link type is not supported, the test is skipped with
the reason (h.TestSkip), never passed in silence. teardown() deletes the
namespaces, and with them every veth and bridge in them; it is registered
at interpreter exit too. Only a SIGKILL of the script leaves them behind
(the processes in them die with it: PR_SET_PDEATHSIG); `ip netns list |
grep '^tm[0-9]'` shows them, `ip netns del NAME` removes them.
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess

import harness as h

#  The master's default ports: nothing else listens inside a test's own
#  namespaces.
PORTS = {"tasks": 5557, "results": 5558, "control": 5559, "admin": 5560}
#  What a worker connects to (admin is the CLI's).
WORKER_PORTS = (PORTS["tasks"], PORTS["results"], PORTS["control"])


def ep(kind, addr):
    return "tcp://%s:%d" % (addr, PORTS[kind])


def _binary(name):
    for path in (shutil.which(name), "/usr/sbin/" + name, "/sbin/" + name, "/usr/bin/" + name):
        if path and os.access(path, os.X_OK):
            return path
    return None


class Network:
    """Namespaces of this script's own. add_bridge() makes the switch,
    add_host() a namespace plugged into it, link() a cable between two
    namespaces. teardown() deletes them all and is safe to call any number
    of times."""

    def __init__(self):
        self.ip_bin = _binary("ip")
        if self.ip_bin is None:
            raise h.TestSkip("iproute2's ip is not installed")
        self.tag = "tm%d" % os.getpid()
        self.bridge = None
        self.created = []
        self.switch_ports = {}      # namespace -> its veth end on the bridge
        atexit.register(self.teardown)

    def ip(self, *args):
        """Runs ip; returns the CompletedProcess (raises nothing)."""
        return subprocess.run([self.ip_bin] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)

    def must(self, *args):
        r = self.ip(*args)
        if r.returncode != 0:
            err = r.stderr.decode("utf-8", "replace").strip()
            if re.search(r"not supported|Unknown device type|Operation not permitted", err):
                raise h.TestSkip("ip %s refused: %s" % (" ".join(args), err))
            h.fail("ip %s failed (status %d): %s" % (" ".join(args), r.returncode, err))
        return r

    def add_namespace(self, suffix):
        ns = self.tag + suffix
        r = self.ip("netns", "add", ns)
        if r.returncode != 0:
            err = r.stderr.decode("utf-8", "replace").strip()
            if not self.created:
                raise h.TestSkip("ip netns add %s refused (status %d, uid %d): %s"
                                 % (ns, r.returncode, os.geteuid(), err))
            h.fail("ip netns add %s failed: %s" % (ns, err))
        self.created.append(ns)
        self.must("-n", ns, "link", "set", "lo", "up")
        return ns

    def add_bridge(self, suffix="b"):
        """The switch: a namespace holding bridge br0."""
        self.bridge = self.add_namespace(suffix)
        self.must("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        self.must("-n", self.bridge, "link", "set", "br0", "up")
        return self.bridge

    def _address(self, ns, dev, addr):
        self.must("-n", ns, "addr", "add", addr + "/24", "dev", dev)
        self.must("-n", ns, "link", "set", dev, "up")

    def add_host(self, suffix, addr):
        """A namespace whose eth0 (address addr/24) is plugged into the
        bridge by a veth pair; the bridge-side end is named v<suffix>."""
        ns = self.add_namespace(suffix)
        port = "v" + suffix
        b = self.bridge
        self.must("-n", b, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                  "netns", ns)
        self.must("-n", b, "link", "set", port, "master", "br0")
        self.must("-n", b, "link", "set", port, "up")
        self._address(ns, "eth0", addr)
        self.switch_ports[ns] = port
        return ns

    def link(self, ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
        """A veth pair straight from ns_a (dev_a, addr_a/24) to ns_b."""
        self.must("-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b,
                  "netns", ns_b)
        self._address(ns_a, dev_a, addr_a)
        self._address(ns_b, dev_b, addr_b)

    def cut(self, ns):
        """ns's switch port down: its packets vanish both ways, no reset."""
        self.must("-n", self.bridge, "link", "set", self.switch_ports[ns], "down")

    def restore(self, ns, quiet=False):
        args = ("-n", self.bridge, "link", "set", self.switch_ports[ns], "up")
        return self.ip(*args) if quiet else self.must(*args)

    def reaches(self, ns, addr):
        """True if ns has a route to addr."""
        return self.ip("-n", ns, "route", "get", addr).returncode == 0

    def exec_argv(self, ns):
        return [self.ip_bin, "netns", "exec", ns]

    def run_in(self, ns, argv):
        """Runs argv in ns; returns the CompletedProcess (raises nothing)."""
        return subprocess.run(self.exec_argv(ns) + list(argv), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)

    def tcp_counters(self, ns):
        """The Tcp: line of ns's /proc/net/snmp as a dict (OutRsts,
        EstabResets, ...): the kernel's own count, per namespace."""
        r = self.run_in(ns, ["cat", "/proc/net/snmp"])
        rows = [line.split()[1:] for line in r.stdout.decode().splitlines()
                if line.startswith("Tcp:")]
        if r.returncode != 0 or len(rows) != 2:
            h.fail("could not read /proc/net/snmp in %s: %s" % (ns, r.stderr.decode()[-200:]))
        return {k: int(v) for k, v in zip(rows[0], rows[1])}

    def netem_delay(self, ns, dev, ms):
        """Delays what ns sends on dev by ms with netem; returns None when
        done, else why it cannot (no tc, or a kernel without sch_netem)."""
        tc = _binary("tc")
        if tc is None:
            return "tc is not installed"
        r = self.run_in(ns, [tc, "qdisc", "add", "dev", dev, "root", "netem",
                             "delay", "%dms" % ms])
        if r.returncode != 0:
            return "tc qdisc add dev %s root netem: %s" % (
                dev, r.stderr.decode("utf-8", "replace").strip())
        return None

    def netns_inode(self, ns):
        return os.stat("/run/netns/" + ns).st_ino

    def teardown(self):
        """Deletes every namespace created (their links go with them);
        returns the ones that could not be deleted."""
        #  Not to be cut short by a second SIGTERM while deleting.
        old = None
        try:
            old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except ValueError:
            pass        # not the main thread
        left = []
        try:
            while self.created:
                ns = self.created.pop()
                r = self.ip("netns", "del", ns)
                if r.returncode != 0 and os.path.exists("/run/netns/" + ns):
                    left.append("%s (%s)" % (ns, r.stderr.decode("utf-8", "replace").strip()))
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return left


@contextlib.contextmanager
def network(env):
    """A Network for the body of a with statement. On the way out, also on
    failure, it stops every process of env first (a namespace whose name
    is deleted lives on while a process is in it), then deletes the
    namespaces, and fails the test if one is left."""
    net = Network()
    try:
        yield net
    finally:
        try:
            h.stop_all(env.procs)
        finally:
            left = net.teardown()
    h.check(not left, "namespaces left behind: %s" % left)


# --------------------------------------------------------------------------
#  Programs in the namespaces

def start_in(env, net, ns, name, argv):
    """Starts argv in ns through `ip netns exec` and checks that it has
    exec'd argv[0] in place (so the pid the harness signals is the
    program's) and runs in ns."""
    proc = env.start(name, net.exec_argv(ns) + list(argv))
    want = os.path.realpath(argv[0])

    def execd():
        if not proc.alive():
            h.fail("%s exited (status %s) at start: %s" % (proc.name, proc.poll(),
                                                          proc.stderr()[-500:]))
        try:
            return os.path.realpath("/proc/%d/exe" % proc.pid) == want
        except OSError:
            return False
    h.wait_for(execd, h.scaled(5), "pid %d (%s) to be %s after ip netns exec"
               % (proc.pid, name, want))
    h.check_eq(os.stat("/proc/%d/ns/net" % proc.pid).st_ino, net.netns_inode(ns),
               "network namespace inode of %s" % name)
    return proc


def start_master(env, net, ns, addr, tag, job_path, out, summary_path, extra=()):
    """A master in ns binding its four sockets on addr; returns once it has
    logged that they are open."""
    argv = [env.master_bin, job_path, "--out", out, "--summary", summary_path,
            "--bind-tasks", ep("tasks", addr), "--bind-results", ep("results", addr),
            "--bind-control", ep("control", addr), "--bind-admin", ep("admin", addr)] + list(extra)
    master = start_in(env, net, ns, "%s-master" % tag, argv)
    h.wait_for(lambda: re.search(r"job \w+: tasks on ", master.stderr()) or (
        not master.alive() and h.fail("the %s master exited (status %s) at start: %s"
                                      % (tag, master.poll(), master.stderr()[-500:]))),
        h.scaled(10), "the %s master to log that its sockets are open" % tag)
    return master


def wait_joined(master, wid, tag):
    h.wait_for(lambda: "worker joined: %s " % wid in master.stderr() or (
        not master.alive() and h.fail("the %s master exited (status %s)" % (tag, master.poll()))),
        h.scaled(10), "the %s master to log \"worker joined: %s\"" % (tag, wid))


def lost_lines(master, wid):
    return re.findall(r"worker lost: %s \([^)]*\).*" % re.escape(wid), master.stderr())


def check_drained(workers):
    """Every worker (id, Proc), stopped with SIGTERM through ip netns exec,
    exited 0 (drained) or 3 (second SIGTERM), never by SIGKILL."""
    for wid, w in workers:
        h.check(w.rc in (0, 3), "%s exited %s when stopped (SIGTERM through ip netns exec should "
                "drain it: 0, or 3 on the second SIGTERM)" % (wid, w.rc))

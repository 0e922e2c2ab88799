#!/usr/bin/env python3
"""deploy/: every artefact checked without the engine it is written for.

(1) shellcheck finds nothing in any shell script of deploy/ and tests/.
(2) ssh-cluster.sh --dry-run prints one ssh command per host, with its
    --threads and --id, and runs nothing; a bad hosts file is exit 2.
(3) ssh-cluster.sh over a fake ssh (a script first in PATH that runs the
    command here): start runs a worker per line that joins a local master
    and runs its job; stop on one host mid-job drains it (the job completes,
    nothing re-sent); status tells running from stopped, and an unreachable
    host fails the command without keeping the others from being served;
    stop drains the rest.
(4) The systemd units, as `cmake --install` puts them (ExecStart at the
    installed binaries, man pages beside them), pass `systemd-analyze
    verify` with nothing printed, and `systemd-analyze security --offline`
    rates them 2.0 or better; they stop with SIGTERM within a TimeoutStopSec
    above the worker's drain timeout, and carry the hardening asked for.
(5) Dockerfile: Debian 12 stages, a non-root USER, tini as PID 1 running the
    worker, the build packages those of install-deps.sh, every source
    directory copied and no build tree (its .dockerignore). compose.yaml passes `docker-compose config`, its
    workers can be scaled (no fixed name or host port), and its worker
    entry point, run here with the real binary, gives the worker the host
    name as its id.
(6) yamllint (strict) on every YAML file of deploy/.
(7) Every Kubernetes manifest validates against the schema of its kind
    (kubernetes-models and @kubernetes-models/keda, installed under
    tests/deploy by npm ci when missing), with no field the schema lacks;
    the manifests agree with each other (selectors, ports, scale targets,
    the metrics, the workers' --metrics port) and the workers' grace period
    exceeds their drain timeout.
(8) Every option the deploy files pass to taskmill-master and
    taskmill-worker is one their --help lists.
(9) taskmill.sbatch passes bash -n, and (10) runs a job on a one-node Slurm
    (slurmctld, slurmd and munged on loopback, in the test's own
    directory): skipped, with the reason, where that cannot run.
(11) cpack -G DEB builds a .deb whose Depends names the package of every
    library the binaries link; apt could install it here; unpacked with
    dpkg -x, its programs run, its man pages hold every option of --help,
    its units start /usr/bin's programs, and the deploy files are there.

Needs (deploy/install-deps.sh installs them; a missing one is a failure):
shellcheck, systemd (systemd-analyze), yamllint and python3-yaml,
docker-compose, node and npm, help2man (the build's man pages), dpkg-dev,
and for (10) slurm-wlm and munge (missing: that test is skipped).
"""

import glob
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

REPO = h.REPO
DEPLOY = os.path.join(REPO, "deploy")
TOOLS = os.path.join(REPO, "tests", "deploy")
BUILD = os.environ.get("TASKMILL_BUILD_DIR", "")
DRAIN_TIMEOUT_MS = 60000        # the worker's default --drain-timeout
LAST_RESULTS_S = 5              # what a drained worker waits for its last results


def need(*programs):
    for program in programs:
        h.check(shutil.which(program), "%s is not installed (deploy/install-deps.sh installs it)"
                % program)


def need_build():
    h.check(BUILD and os.path.isfile(os.path.join(BUILD, "CMakeCache.txt")),
            "run through ctest (TASKMILL_BUILD_DIR names the build directory)")


def run(argv, timeout=60, **kwargs):
    """Runs a command to its end; returns the CompletedProcess (text)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        h.fail("%s did not finish within %d s" % (" ".join(map(str, argv)), timeout))


def yaml_module():
    try:
        import yaml
    except ImportError:
        h.fail("python3-yaml is not installed (deploy/install-deps.sh installs it)")
    return yaml


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml_module().safe_load_all(f) if d is not None]


def deploy_file(*parts):
    return os.path.join(DEPLOY, *parts)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --------------------------------------------------------------------------
#  (1) shellcheck

def shell_scripts():
    """Every shell script under deploy/ and tests/: by its #! line, or by
    its name (.sh, .sbatch)."""
    scripts = []
    for top in (DEPLOY, os.path.join(REPO, "tests")):
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__")]
            for name in files:
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as f:
                        first = f.readline(200)
                except OSError:
                    continue
                shebang = re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(sh|bash|dash)\b", first)
                if shebang or name.endswith((".sh", ".sbatch")):
                    scripts.append(path)
    return sorted(scripts)


def test_shellcheck_every_script(env):
    need("shellcheck")
    scripts = shell_scripts()
    for expected in ("ssh-cluster.sh", "taskmill.sbatch", "install-deps.sh", "run.sh"):
        h.check(any(s.endswith("/" + expected) for s in scripts),
                "the script search missed %s: %s" % (expected, scripts))
    p = run(["shellcheck", "--external-sources"] + scripts, cwd=REPO)
    h.check(p.returncode == 0 and not p.stdout.strip(),
            "shellcheck findings (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    env.note("shellcheck: %d scripts, no finding" % len(scripts))


# --------------------------------------------------------------------------
#  (2), (3) the ssh launcher

FAKE_SSH = r"""#!/bin/sh
# ssh for tests: logs the host, then runs the command on this machine as a
# login shell over ssh would (options skipped).
while [ $# -gt 0 ]; do
    case $1 in
        -o) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
host=$1
shift
echo "$host" >> "$FAKE_SSH_LOG"
case $host in
    *.invalid) echo "ssh: Could not resolve hostname $host" >&2; exit 255 ;;
esac
exec sh -c "$*"
"""


class Launcher:
    """deploy/ssh-cluster.sh with a fake ssh first in PATH."""

    def __init__(self, env):
        self.env = env
        bindir = env.path("fake-bin")
        os.makedirs(bindir)
        ssh = os.path.join(bindir, "ssh")
        with open(ssh, "w") as f:
            f.write(FAKE_SSH)
        os.chmod(ssh, 0o755)
        self.ssh_log = env.path("ssh.log")
        open(self.ssh_log, "w").close()
        self.run_dir = env.path("run")
        self.environ = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                            FAKE_SSH_LOG=self.ssh_log)

    def hosts(self, name, lines):
        path = self.env.path(name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def run(self, hosts, *args, timeout=30, dry_run=False):
        """Runs the launcher to its end as a harness process (so whatever it
        leaves running dies with the test); returns the Proc."""
        argv = [deploy_file("ssh-cluster.sh"), "--hosts", hosts, "--run-dir", self.run_dir,
                "--worker-bin", self.env.worker_bin, "--stop-wait", "20"]
        if dry_run:
            argv.append("--dry-run")
        argv += list(args)
        p = h.Proc(self.env._proc_name("ssh-cluster"), argv, self.env.tmp, env=self.environ)
        self.env.procs.append(p)
        p.wait_exit(timeout, "ssh-cluster.sh %s" % " ".join(args))
        return p

    def ssh_calls(self):
        with open(self.ssh_log) as f:
            return f.read().split()

    def pid(self, worker_id):
        try:
            with open(os.path.join(self.run_dir, worker_id + ".pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def log(self, worker_id):
        return h._read_text(os.path.join(self.run_dir, worker_id + ".log"))


def test_ssh_launcher_dry_run(env):
    launcher = Launcher(env)
    hosts = launcher.hosts("hosts", ["# fleet", "alpha 4", "", "beta - b-one   # a comment",
                                     "  gamma 1 g.1"])
    p = launcher.run(hosts, "start", "master.example", "--", "--allow-exec", "it's",
                     dry_run=True)
    h.check_eq(p.poll(), 0, "exit status of --dry-run start")
    h.check_eq(launcher.ssh_calls(), [], "hosts ssh was run on in a dry run")
    h.check(not os.path.exists(launcher.run_dir), "a dry run created the run directory")
    lines = p.stdout().splitlines()
    h.check_eq(lines[0], "#!/bin/sh", "first line of a dry run")
    commands = [shlex.split(line) for line in lines[1:]]
    h.check_eq([c[:4] for c in commands],
               [["ssh", "-o", "BatchMode=yes", host] for host in ("alpha", "beta", "gamma")],
               "ssh command lines")
    expected = {
        "alpha": "--id alpha --threads 4 --allow-exec 'it'\\''s'",
        "beta": "--id b-one --allow-exec",
        "gamma": "--id g.1 --threads 1 --allow-exec",
    }
    for command in commands:
        remote = command[4]
        h.check("master.example " + expected[command[3]] in remote,
                "remote command for %s lacks %r: %s" % (command[3], expected[command[3]], remote))
        h.check(("--threads" in remote) == (command[3] != "beta"),
                "--threads given for a host without THREADS: %s" % remote)
    #  The remote command is what a shell runs: it parses.
    for command in commands:
        check = run(["sh", "-n", "-c", command[4]])
        h.check_eq(check.returncode, 0, "sh -n of the remote command: %s" % check.stderr)
    for name, bad_lines in (("two-ids", ["alpha 1 x", "beta 1 x"]),
                            ("same-host", ["alpha", "alpha"]),
                            ("bad-threads", ["alpha many"]),
                            ("too-many", ["alpha 1 a b"]),
                            ("empty", ["# nothing"])):
        bad = launcher.hosts(name, bad_lines)
        p = launcher.run(bad, "status", dry_run=True)
        h.check_eq(p.poll(), 2, "exit status for hosts file %s" % name)
    p = launcher.run(hosts, "start", dry_run=True)
    h.check_eq(p.poll(), 2, "exit status of start without a master")


def test_ssh_launcher_starts_and_drains(env):
    launcher = Launcher(env)
    ports = h.Ports()
    both = launcher.hosts("hosts", ["127.0.0.1 2 w-a", "localhost 1 w-b"])
    only_b = launcher.hosts("hosts-b", ["localhost 1 w-b"])
    tasks = 90
    job = env.write_job("job.jsonl", [{"id": "t%d" % i, "type": "sleep", "payload": "60",
                                       "timeout_ms": 10000} for i in range(tasks)])
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, job, out=out, summary=summary,
                              extra=["--min-workers", "2", "--quiet"])
    worker_ports = ["--tasks", ports.ep(ports.tasks), "--results", ports.ep(ports.results),
                    "--control", ports.ep(ports.control)]
    p = launcher.run(both, "start", "127.0.0.1", "--", *worker_ports)
    h.check_eq(p.poll(), 0, "exit status of start: %s" % p.stdout())
    h.check_eq(launcher.ssh_calls(), ["127.0.0.1", "localhost"], "hosts ssh ran on")
    h.check("+ ssh " in p.stderr(), "start did not print the commands it ran: %r" % p.stderr())
    pids = {w: launcher.pid(w) for w in ("w-a", "w-b")}
    h.check(all(pids.values()), "pid files: %s" % pids)
    env.kill_at_cleanup(pids.values())
    for w, pid in pids.items():
        h.check("%s: started, pid %d" % (w, pid) in p.stdout(), "start output: %r" % p.stdout())
    p = launcher.run(both, "start", "127.0.0.1", "--", *worker_ports)
    h.check("w-a: already running" in p.stdout(), "a second start: %r" % p.stdout())
    h.check_eq({w: launcher.pid(w) for w in pids}, pids, "pids after a second start")
    #  A host ssh cannot reach fails the command, and the other hosts are
    #  still served.
    with_down = launcher.hosts("hosts-down", ["down.invalid 1 d", "127.0.0.1 2 w-a"])
    p = launcher.run(with_down, "status")
    h.check_eq(p.poll(), 1, "exit status of status with a host down")
    h.check("w-a: running" in p.stdout() and "Could not resolve" in p.stderr(),
            "status with a host down: %r %r" % (p.stdout(), p.stderr()))

    #  Mid-job, w-b is stopped: it drains what it holds.
    h.wait_for(lambda: h.count_lines(out) >= 15, h.scaled(20), "15 results")
    p = launcher.run(only_b, "stop", timeout=h.scaled(30))
    h.check_eq(p.poll(), 0, "exit status of stop w-b: %s" % p.stdout())
    h.check("w-b: drained and stopped" in p.stdout(), "stop output: %r" % p.stdout())
    h.check(not h.pid_alive(pids["w-b"]), "w-b still runs after stop")
    log_b = launcher.log("w-b")
    h.check(re.search(r"draining \d+ tasks", log_b) and "stopping" in log_b,
            "w-b's log does not show a drain:\n%s" % log_b)
    p = launcher.run(both, "status")
    h.check_eq(p.poll(), 1, "exit status of status with w-b stopped")
    h.check("w-a: running, pid %d" % pids["w-a"] in p.stdout() and "w-b: not running" in p.stdout(),
            "status output: %r" % p.stdout())

    h.check_eq(master.wait_exit(h.scaled(40), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, tasks)
    workers = {r["worker"] for r in results}
    h.check_eq(workers, {"w-a", "w-b"}, "workers in the results (ids from the hosts file)")
    report = h.read_summary(summary)
    h.check_eq((report.get("reissued"), report.get("retries")), (0, 0),
               "(reissued, retries): a drained worker loses nothing")

    p = launcher.run(both, "stop", timeout=h.scaled(30))
    h.check_eq(p.poll(), 0, "exit status of the last stop: %s" % p.stdout())
    h.check("w-a: drained and stopped" in p.stdout() and "w-b: not running" in p.stdout(),
            "last stop output: %r" % p.stdout())
    h.check(not h.pid_alive(pids["w-a"]), "w-a still runs after stop")
    for w in pids:
        for line in launcher.log(w).splitlines():
            for pattern, what in h.BAD_STDERR:
                h.check(not pattern.search(line), "%s's log: %s: %s" % (w, what, line))
    env.note("ssh launcher: %d tasks, w-a ran %d, w-b %d (stopped mid-job)"
             % (tasks, sum(r["worker"] == "w-a" for r in results),
                sum(r["worker"] == "w-b" for r in results)))


# --------------------------------------------------------------------------
#  (4) systemd

UNITS = ("taskmill-worker@.service", "taskmill-master.service")


def unit_settings(text):
    """{(section, key): [values]} of a unit file."""
    settings = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def install_prefix(env):
    need_build()
    prefix = env.path("prefix")
    p = run(["cmake", "--install", BUILD, "--prefix", prefix], timeout=120)
    h.check(p.returncode == 0, "cmake --install failed: %s" % p.stderr)
    return prefix


def test_systemd_units(env):
    need("systemd-analyze")
    prefix = install_prefix(env)
    environ = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"))
    for unit in UNITS:
        source = read(deploy_file("systemd", unit))
        installed_path = os.path.join(prefix, "lib", "systemd", "system", unit)
        h.check(os.path.isfile(installed_path), "cmake --install did not install %s" % unit)
        installed = read(installed_path)
        h.check_eq(installed, source.replace("=/usr/bin/", "=%s/bin/" % prefix),
                   "installed %s (the source with ExecStart at the prefix)" % unit)
        p = run(["systemd-analyze", "verify", installed_path], env=environ)
        h.check(p.returncode == 0 and not (p.stdout + p.stderr).strip(),
                "systemd-analyze verify %s (exit %d):\n%s%s"
                % (unit, p.returncode, p.stdout, p.stderr))
        p = run(["systemd-analyze", "security", "--offline=true", "--threshold=20",
                 installed_path], env=environ)
        exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", p.stdout)
        h.check(p.returncode == 0 and exposure,
                "systemd-analyze security rates %s above 2.0 (exit %d): %s"
                % (unit, p.returncode, p.stdout.strip().splitlines()[-1:]))
        env.note("%s: exposure %s" % (unit, exposure.group(1)))

        settings = unit_settings(source)
        for key, value in (("Type", "exec"), ("KillSignal", "SIGTERM"),
                           ("Restart", "on-failure"), ("DynamicUser", "yes"),
                           ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                           ("PrivateDevices", "yes"), ("RestrictNamespaces", "yes"),
                           ("LockPersonality", "yes"), ("CapabilityBoundingSet", "")):
            h.check_eq(settings.get(("Service", key)), [value], "%s: %s" % (unit, key))
        h.check(settings.get(("Service", "RestrictAddressFamilies")),
                "%s: no RestrictAddressFamilies" % unit)
        exec_start = settings[("Service", "ExecStart")][0]
        h.check(exec_start.startswith("/usr/bin/taskmill-"),
                "%s: ExecStart %s" % (unit, exec_start))
    worker = unit_settings(read(deploy_file("systemd", "taskmill-worker@.service")))
    argv = worker[("Service", "ExecStart")][0].split()
    h.check_eq(argv[:2], ["/usr/bin/taskmill-worker", "%i"], "worker ExecStart: master = instance")
    drain_ms = int(argv[argv.index("--drain-timeout") + 1]) if "--drain-timeout" in argv \
        else DRAIN_TIMEOUT_MS
    stop_s = int(worker[("Service", "TimeoutStopSec")][0])
    h.check(stop_s > drain_ms / 1000 + LAST_RESULTS_S,
            "TimeoutStopSec %d s is not above the drain timeout %d ms + %d s"
            % (stop_s, drain_ms, LAST_RESULTS_S))
    h.check_eq(worker.get(("Service", "KillMode")), ["mixed"],
               "worker KillMode (SIGTERM to the worker alone, so exec tasks finish)")

    #  The check itself: an unknown key is a line of output, and fails.
    bogus = env.path("bogus.service")
    with open(bogus, "w") as f:
        f.write(read(os.path.join(prefix, "lib", "systemd", "system", UNITS[1]))
                .replace("[Service]\n", "[Service]\nKillSignl=SIGTERM\n"))
    p = run(["systemd-analyze", "verify", bogus], env=environ)
    h.check("Unknown key" in p.stdout + p.stderr, "verify did not report a misspelt key: %r"
            % (p.stdout + p.stderr))


# --------------------------------------------------------------------------
#  (5) container

def install_deps_packages():
    text = read(deploy_file("install-deps.sh"))
    match = re.search(r'^PACKAGES="([^"]*)"', text, re.M)
    h.check(match, "no PACKAGES=\"...\" in deploy/install-deps.sh")
    return set(match.group(1).split())


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def apt_packages(run_args):
    """The packages an `apt-get install ...` in a RUN installs."""
    packages = []
    for command in run_args.split("&&"):
        words = command.split()
        if "apt-get" in words and "install" in words:
            packages += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return packages


def test_dockerfile(env):
    text = read(deploy_file("container", "Dockerfile"))
    instructions = dockerfile_instructions(text)
    stages = []
    for word, rest in instructions:
        if word == "FROM":
            stages.append({"from": rest, "lines": []})
        else:
            h.check(stages or word == "ARG", "%s before the first FROM" % word)
            if stages:
                stages[-1]["lines"].append((word, rest))
    h.check(len(stages) >= 2, "want a build stage and a runtime stage, got %d FROM" % len(stages))
    for stage in stages:
        h.check(re.match(r"debian:12(-slim)?(\s|$)", stage["from"]),
                "FROM %s is not Debian 12" % stage["from"])
    build, runtime = stages[0], stages[-1]
    h.check(re.search(r"\bAS\s+build\b", build["from"], re.I), "first stage is not 'AS build'")
    h.check(runtime["from"].startswith("debian:12-slim"), "runtime stage is not debian:12-slim")

    build_packages = set()
    for word, rest in build["lines"]:
        if word == "RUN":
            build_packages.update(apt_packages(rest))
    deps = install_deps_packages()
    h.check(build_packages <= deps, "build-stage packages not in install-deps.sh: %s"
            % sorted(build_packages - deps))
    missing_dev = sorted(p for p in deps if p.endswith("-dev") and p not in build_packages)
    h.check(not missing_dev, "libraries install-deps.sh builds with that the image lacks: %s"
            % missing_dev)
    for needed in ("build-essential", "cmake", "help2man", "file"):
        h.check(needed in build_packages, "build stage does not install %s" % needed)

    copied = [rest.split()[0] for word, rest in build["lines"] if word == "COPY"]
    subdirs = re.findall(r"^add_subdirectory \((\w+)\)", read(os.path.join(REPO, "CMakeLists.txt")),
                         re.M)
    h.check(subdirs, "no add_subdirectory in CMakeLists.txt")
    for needed in ["CMakeLists.txt", "deploy"] + subdirs:
        h.check(needed in copied, "the build stage does not COPY %s (copies %s)" % (needed, copied))
    for source in copied:
        h.check(os.path.exists(os.path.join(REPO, source)), "COPY of %s, which is not in the tree"
                % source)
    ignored = read(deploy_file("container", "Dockerfile.dockerignore")).split()
    for pattern in ("build*", "**/node_modules", ".git"):
        h.check(pattern in ignored, "Dockerfile.dockerignore does not leave out %s" % pattern)

    runtime_packages = []
    users = []
    entrypoint = None
    from_build = False
    for word, rest in runtime["lines"]:
        if word == "RUN":
            runtime_packages += apt_packages(rest)
        elif word == "USER":
            users.append(rest)
        elif word == "ENTRYPOINT":
            entrypoint = rest
        elif word == "COPY" and rest.startswith("--from=build"):
            from_build = True
    h.check(from_build, "the runtime stage copies nothing from the build stage")
    h.check("tini" in runtime_packages, "the runtime stage does not install tini")
    h.check(any(p.startswith("/tmp/taskmill_") and p.endswith(".deb") for p in runtime_packages),
            "the runtime stage does not install the .deb: %s" % runtime_packages)
    h.check(users, "no USER in the runtime stage")
    user = users[-1].split(":")[0]
    h.check(user not in ("root", "0"), "the image runs as %s" % users[-1])
    h.check(entrypoint, "no ENTRYPOINT")
    try:
        argv = json.loads(entrypoint)
    except ValueError:
        h.fail("ENTRYPOINT is not in exec (JSON) form: %s" % entrypoint)
    h.check(os.path.basename(argv[0]) == "tini" and "--" in argv,
            "ENTRYPOINT does not start tini as PID 1: %s" % argv)
    h.check(os.path.basename(argv[-1]) == "taskmill-worker",
            "ENTRYPOINT does not run the worker: %s" % argv)


def compose_config():
    """`docker compose config` where the client has the plugin, else the
    docker-compose program; returns (tool, CompletedProcess)."""
    path = deploy_file("container", "compose.yaml")
    if shutil.which("docker"):
        p = run(["docker", "compose", "-f", path, "config"], cwd=REPO)
        if p.returncode == 0:
            return "docker compose", p
    need("docker-compose")
    return "docker-compose", run(["docker-compose", "-f", path, "config"], cwd=REPO)


def test_compose(env):
    tool, p = compose_config()
    h.check(p.returncode == 0, "%s config failed: %s%s" % (tool, p.stderr, p.stdout))
    env.note("compose.yaml: %s config passes" % tool)
    config = yaml_module().safe_load(p.stdout)
    services = config.get("services", {})
    h.check_eq(sorted(services), ["master", "worker"], "services")
    master, worker = services["master"], services["worker"]
    for key in ("container_name", "ports"):
        h.check(key not in worker, "worker has %s: --scale worker=8 would clash" % key)
    h.check_eq(master.get("image"), worker.get("image"), "image of master and worker")
    h.check("build" in master
            and master["build"].get("dockerfile") == "deploy/container/Dockerfile",
            "master's build section: %s" % master.get("build"))
    h.check_eq(os.path.realpath(master["build"]["context"]), os.path.realpath(REPO),
               "build context (the top of the tree)")
    h.check(os.path.basename(master["entrypoint"][0]) == "tini"
            and master["entrypoint"][-1].endswith("taskmill-master"),
            "master entrypoint: %s" % master["entrypoint"])
    job = master["command"][0]
    mounts = {}
    for volume in master.get("volumes", []):
        if isinstance(volume, dict):     # docker compose (v2) writes the long form
            mounts[volume["target"]] = volume["source"]
        else:
            mounts[volume.split(":")[1]] = volume.split(":")[0]
    h.check(job.startswith("/job/") and "/job" in mounts, "the master's job is not on a mount")
    h.check(os.path.isfile(os.path.join(mounts["/job"], job[len("/job/"):])),
            "the default job %s is not in %s" % (job, mounts["/job"]))
    h.check(os.path.basename(worker["entrypoint"][0]) == "tini", "worker entrypoint: %s"
            % worker["entrypoint"])
    grace = worker.get("stop_grace_period", "10s")
    duration = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", grace)
    h.check(duration and grace, "worker stop_grace_period %r" % grace)
    seconds = int(duration.group(1) or 0) * 60 + int(duration.group(2) or 0)
    h.check(seconds > DRAIN_TIMEOUT_MS / 1000 + LAST_RESULTS_S,
            "worker stop_grace_period %s is not above the drain timeout" % grace)
    h.check_eq(worker.get("stop_signal", "SIGTERM"), "SIGTERM", "worker stop_signal")

    #  The worker's entry point as compose hands it to tini (from the file
    #  itself, $$ unescaped), run here with the built worker against a local
    #  master: the worker's id is this host's name.
    raw = load_yaml(deploy_file("container", "compose.yaml"))[0]["services"]["worker"]
    shell = raw["entrypoint"][raw["entrypoint"].index("-c") + 1].replace("$$", "$")
    h.check('--id "$(hostname)"' in shell, "worker entrypoint does not take its id from the host "
            "name: %s" % shell)
    h.check(shell.startswith("exec "),
            "worker entrypoint shell does not exec the worker: %s" % shell)
    shell = shell.replace("/usr/bin/taskmill-worker", shlex.quote(env.worker_bin), 1)
    shell = shell.replace(" master ", " 127.0.0.1 ", 1)
    ports = h.Ports()
    out = env.path("out.jsonl")
    master_proc = env.start_master(ports, env.write_job("job.jsonl", [
        {"id": "e%d" % i, "type": "echo", "payload": str(i)} for i in range(20)]), out=out)
    args = list(raw["command"]) + ports.worker_args()[1:] + ["--once"]
    env.start("compose-worker", ["sh", "-c", shell, raw["entrypoint"][-1]] + args)
    h.check_eq(master_proc.wait_exit(h.scaled(20), "master"), 0, "master exit status")
    hostname = run(["hostname"]).stdout.strip()
    h.check_eq({r["worker"] for r in h.check_exactly_once(h.read_results(out), 20).values()},
               {hostname}, "worker ids in results")


# --------------------------------------------------------------------------
#  (6), (7) YAML and Kubernetes

def test_yamllint(env):
    need("yamllint")
    files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True)
                   + glob.glob(os.path.join(DEPLOY, "**", "*.yml"), recursive=True))
    h.check(len(files) >= 8, "found only %s" % files)
    p = run(["yamllint", "--strict", "-c", os.path.join(TOOLS, "yamllint.yaml")] + files)
    h.check(p.returncode == 0 and not p.stdout.strip(),
            "yamllint (exit %d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    env.note("yamllint: %d files" % len(files))


def k8s_files():
    return sorted(glob.glob(os.path.join(DEPLOY, "k8s", "**", "*.yaml"), recursive=True))


def npm_tools():
    """tests/deploy/node_modules, installed from the committed lock file
    when missing."""
    need("node", "npm")
    marker = os.path.join(TOOLS, "node_modules", "kubernetes-models", "package.json")
    if not os.path.isfile(marker):
        p = run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOLS,
                timeout=150)
        h.check(p.returncode == 0, "npm ci in tests/deploy failed: %s%s" % (p.stdout, p.stderr))
    h.check(os.path.isfile(marker), "npm ci did not install kubernetes-models")


def test_k8s_schemas(env):
    npm_tools()
    files = k8s_files()
    p = run(["node", os.path.join(TOOLS, "validate_k8s.mjs")] + files, cwd=TOOLS)
    h.check(p.returncode == 0, "schema validation (exit %d):\n%s%s"
            % (p.returncode, p.stdout, p.stderr))
    documents = sum(len(load_yaml(f)) for f in files)
    h.check_eq(sum(line.startswith("ok ") for line in p.stdout.splitlines()), documents,
               "documents validated:\n%s" % p.stdout)
    #  The validator itself: a misspelt field and a wrong type are caught.
    bad = env.path("bad.yaml")
    with open(bad, "w") as f:
        f.write(read(deploy_file("k8s", "worker-deployment.yaml"))
                .replace("terminationGracePeriodSeconds", "terminationGracePeriodSecond")
                + "---\n" + read(deploy_file("k8s", "keda", "scaledobject.yaml"))
                .replace('threshold: "200"', "threshold: 200"))
    p = run(["node", os.path.join(TOOLS, "validate_k8s.mjs"), bad], cwd=TOOLS)
    h.check(p.returncode == 1 and "terminationGracePeriodSecond" in p.stdout
            and "threshold must be string" in p.stdout,
            "the validator missed planted errors:\n%s%s" % (p.stdout, p.stderr))
    env.note("kubernetes-models: %d documents in %d files" % (documents, len(files)))


def k8s_objects():
    objects = {}
    for path in k8s_files():
        for doc in load_yaml(path):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def option_value(args, option, default=None):
    return args[args.index(option) + 1] if option in args else default


def test_k8s_manifests_agree(env):
    objects = k8s_objects()
    job = objects.get(("Job", "taskmill-master"))
    service = objects.get(("Service", "taskmill-master"))
    deployment = objects.get(("Deployment", "taskmill-worker"))
    h.check(job and service and deployment, "want Job, Service taskmill-master and Deployment "
            "taskmill-worker; have %s" % sorted(objects))
    master_pod = job["spec"]["template"]
    selector = service["spec"]["selector"]
    h.check(all(master_pod["metadata"]["labels"].get(k) == v for k, v in selector.items()),
            "the Service's selector %s does not select the Job's pod %s"
            % (selector, master_pod["metadata"]["labels"]))
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    for name, port in (("tasks", 5557), ("results", 5558), ("control", 5559), ("admin", 5560)):
        h.check_eq(ports.get(name), port, "Service port %s" % name)
    master = master_pod["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in master["ports"]}
    for p in service["spec"]["ports"]:
        h.check(p["targetPort"] in container_ports, "Service targetPort %s not a master port"
                % p["targetPort"])
    http = option_value(master["args"], "--http")
    h.check(http and http.endswith(":%d" % container_ports["http"]),
            "master --http %s is not its http port %d" % (http, container_ports["http"]))
    h.check_eq(service["metadata"]["annotations"].get("prometheus.io/port"),
               str(container_ports["http"]), "prometheus.io/port annotation")
    h.check_eq(master_pod["spec"].get("restartPolicy"), "Never", "Job restartPolicy")

    pod = deployment["spec"]["template"]
    h.check_eq(pod["metadata"]["labels"], deployment["spec"]["selector"]["matchLabels"],
               "Deployment selector and pod labels")
    worker = pod["spec"]["containers"][0]
    h.check_eq(worker["args"][0], service["metadata"]["name"], "the host the workers dial")
    drain_ms = int(option_value(worker["args"], "--drain-timeout", DRAIN_TIMEOUT_MS))
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    h.check(grace > drain_ms / 1000 + LAST_RESULTS_S,
            "terminationGracePeriodSeconds %d is not above the drain timeout %d ms + %d s"
            % (grace, drain_ms, LAST_RESULTS_S))
    for c in (master, worker):
        requests = c.get("resources", {}).get("requests", {})
        h.check("cpu" in requests and "memory" in requests, "%s has no cpu and memory requests"
                % c["name"])
        h.check(c.get("securityContext", {}).get("allowPrivilegeEscalation") is False,
                "%s may escalate privileges" % c["name"])
    threads = int(option_value(worker["args"], "--threads", "0"))
    h.check_eq(str(threads), str(worker["resources"]["requests"]["cpu"]),
               "worker --threads and its CPU request")
    worker_ports = {p["name"]: p["containerPort"] for p in worker.get("ports", [])}
    metrics = option_value(worker["args"], "--metrics")
    h.check(metrics and "metrics" in worker_ports
            and metrics.endswith(":%d" % worker_ports["metrics"]),
            "worker --metrics %s is not its metrics port %s" % (metrics, worker_ports))
    h.check_eq(pod["metadata"].get("annotations", {}).get("prometheus.io/port"),
               str(worker_ports["metrics"]), "the worker pods' prometheus.io/port annotation")

    scaled = objects.get(("ScaledObject", "taskmill-worker"))
    hpa = objects.get(("HorizontalPodAutoscaler", "taskmill-worker"))
    adapter = objects.get(("ConfigMap", "prometheus-adapter"))
    h.check(scaled and hpa and adapter, "want the ScaledObject, the HPA and the adapter config")
    for target in (scaled["spec"]["scaleTargetRef"], hpa["spec"]["scaleTargetRef"]):
        h.check_eq((target.get("kind", "Deployment"), target["name"]),
                   ("Deployment", "taskmill-worker"), "scale target")
    #  The same policy both ways: the master's queue, and what the workers
    #  run (a pod per --threads running tasks).
    signals = ["taskmill_tasks_queued", "taskmill_worker_tasks_running"]
    triggers, metrics = scaled["spec"]["triggers"], hpa["spec"]["metrics"]
    h.check_eq((len(triggers), len(metrics)), (2, 2), "KEDA triggers and HPA metrics")
    for name, trigger, metric in zip(signals, triggers, metrics):
        h.check_eq(trigger["type"], "prometheus", "KEDA trigger type")
        h.check(name in trigger["metadata"]["query"], "KEDA query: %s"
                % trigger["metadata"]["query"])
        h.check_eq((metric["type"], metric["external"]["metric"]["name"]),
                   ("External", name), "HPA metric")
        h.check_eq(metric["external"]["target"]["averageValue"],
                   trigger["metadata"]["threshold"],
                   "HPA target and KEDA threshold for %s (the same policy)" % name)
    h.check_eq(triggers[1]["metadata"]["threshold"], str(threads),
               "running tasks a worker pod is worth: its --threads")
    rules = yaml_module().safe_load(adapter["data"]["config.yaml"])["externalRules"]
    h.check_eq([r["name"]["as"] for r in rules], signals, "metrics the adapter serves")
    h.check(all("seriesQuery" in r and "<<.Series>>" in r["metricsQuery"] for r in rules),
            "adapter rule shape: %s" % rules)


# --------------------------------------------------------------------------
#  (8) options the deploy files pass exist

def help_options(binary):
    p = run([binary, "--help"])
    h.check_eq(p.returncode, 0, "%s --help exit status" % binary)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", p.stdout))


def deploy_invocations():
    """(file, program, [options]) for each place a deploy file runs a
    taskmill program."""
    found = []

    def add(where, program, words):
        found.append((where, program, [w for w in words if re.match(r"--[a-z]", str(w))]))

    for unit in UNITS:
        settings = unit_settings(read(deploy_file("systemd", unit)))
        argv = settings[("Service", "ExecStart")][0].split()
        add(unit, os.path.basename(argv[0]), argv[1:])
    raw = load_yaml(deploy_file("container", "compose.yaml"))[0]["services"]
    add("compose master", "taskmill-master", raw["master"]["command"])
    shell = raw["worker"]["entrypoint"][raw["worker"]["entrypoint"].index("-c") + 1]
    add("compose worker", "taskmill-worker", shell.split() + list(raw["worker"]["command"]))
    objects = k8s_objects()
    add("k8s Job", "taskmill-master",
        objects[("Job", "taskmill-master")]["spec"]["template"]["spec"]["containers"][0]["args"])
    add("k8s Deployment", "taskmill-worker",
        objects[("Deployment", "taskmill-worker")]["spec"]["template"]["spec"]["containers"][0]
        ["args"])
    sbatch = read(deploy_file("slurm", "taskmill.sbatch"))
    master_call = re.search(r'^"\$master_bin"(.*?)\|\|', sbatch, re.M | re.S).group(1)
    add("taskmill.sbatch master", "taskmill-master", master_call.split())
    worker_call = re.search(r"^srun .*?&$", sbatch, re.M | re.S).group(0)
    add("taskmill.sbatch worker", "taskmill-worker",
        re.split(r"[\s'\"]+", worker_call.split("sh -c", 1)[1]))
    launcher = read(deploy_file("ssh-cluster.sh"))
    add("ssh-cluster.sh", "taskmill-worker", re.findall(r"--id|--threads", launcher))
    return found


def test_deploy_options_exist(env):
    need_build()
    known = {"taskmill-master": help_options(env.master_bin),
             "taskmill-worker": help_options(env.worker_bin)}
    checked = 0
    for where, program, options in deploy_invocations():
        h.check(program in known, "%s runs %s" % (where, program))
        for option in options:
            option = option.split("=")[0]
            if option in known[program]:
                checked += 1
            else:
                h.fail("%s passes %s, which `%s --help` does not list" % (where, option, program))
    h.check(checked >= 20, "only %d options found to check" % checked)


# --------------------------------------------------------------------------
#  (9), (10) Slurm

def test_sbatch_syntax(env):
    script = deploy_file("slurm", "taskmill.sbatch")
    p = run(["bash", "-n", script])
    h.check_eq(p.returncode, 0, "bash -n: %s" % p.stderr)
    text = read(script)
    h.check(re.search(r"^#SBATCH --ntasks-per-node=1$", text, re.M), "no one task per node")
    h.check(re.search(r"^srun .*", text, re.M) and "--once" in text, "no srun ... --once")
    #  Outside Slurm it says so and exits 2 or 1, starting nothing.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    environ.update(TASKMILL_MASTER="/bin/false", TASKMILL_WORKER="/bin/false")
    p = run(["bash", script, "job.jsonl"], env=environ)
    h.check(p.returncode != 0 and "not running under Slurm" in p.stderr,
            "outside Slurm: exit %d, %r" % (p.returncode, p.stderr))


SLURM_CONF = """\
ClusterName=taskmilltest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={dir}/munge.sock
CredType=cred/munge
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def slurm_cluster(env):
    """Starts munged, slurmctld and slurmd (foreground, as harness processes)
    on loopback with their files in a temp dir; returns the environment
    for Slurm's clients. Raises TestSkip saying why when it cannot."""
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")
               if not shutil.which(p)]
    if missing:
        raise h.TestSkip("Slurm cannot run here: %s not installed (slurm-wlm, munge)"
                         % ", ".join(missing))
    if os.geteuid() != 0:
        raise h.TestSkip("Slurm cannot run here: a one-node slurmctld+slurmd needs root")
    d = env.path("slurm")
    for sub in ("state", "spool"):
        os.makedirs(os.path.join(d, sub))
    key = os.path.join(d, "munge.key")
    with open(key, "wb") as f:
        f.write(os.urandom(1024))
    os.chmod(key, 0o600)
    os.chmod(d, 0o700)
    ctld_port, slurmd_port = h.free_ports(2)
    conf = os.path.join(d, "slurm.conf")
    with open(conf, "w") as f:
        f.write(SLURM_CONF.format(dir=d, ctld_port=ctld_port, slurmd_port=slurmd_port,
                                  cpus=os.cpu_count() or 1))
    environ = dict(os.environ, SLURM_CONF=conf)
    env.start("munged", ["munged", "--foreground", "--force", "--key-file=" + key,
                         "--socket=" + os.path.join(d, "munge.sock"),
                         "--pid-file=" + os.path.join(d, "munged.pid"),
                         "--log-file=" + os.path.join(d, "munged.log"),
                         "--seed-file=" + os.path.join(d, "munge.seed")])
    if not h.eventually(lambda: os.path.exists(os.path.join(d, "munge.sock")), 10):
        raise h.TestSkip("Slurm cannot run here: munged did not start: %s"
                         % h._read_text(os.path.join(d, "munged.log"))[-300:])
    for name, argv in (("slurmctld", ["slurmctld", "-D", "-i"]),
                       ("slurmd", ["slurmd", "-D", "-N", "localhost"])):
        p = h.Proc(env._proc_name(name), argv, env.tmp, env=environ)
        env.procs.append(p)

    def idle():
        p = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                           env=environ, timeout=10)
        return p.returncode == 0 and p.stdout.strip() == "idle"
    if not h.eventually(idle, 30, interval=0.3):
        logs = [h._read_text(os.path.join(d, n))[-400:] for n in ("slurmctld.log", "slurmd.log")]
        raise h.TestSkip("Slurm cannot run here: the node did not come up idle within 30 s: %s"
                         % " | ".join(l.replace("\n", " ") for l in logs))
    return environ


def kill_processes_naming(text):
    """SIGKILLs every process whose command line holds text: what a failed
    Slurm job left under slurmstepd, outside our process groups."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline:
            try:
                os.kill(int(entry), 9)
            except OSError:
                pass


def test_sbatch_runs_a_job(env):
    ports = h.Ports()
    try:
        s_sbatch_runs_a_job(env, ports)
    finally:
        kill_processes_naming(ports.ep(ports.tasks))


def s_sbatch_runs_a_job(env, ports):
    started = time.monotonic()
    environ = slurm_cluster(env)
    env.note("one-node Slurm up in %.1f s" % (time.monotonic() - started))
    tasks = 60
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sha256", "payload": "x%d" % i}
                                      for i in range(tasks)])
    environ.update(TASKMILL_MASTER=env.master_bin, TASKMILL_WORKER=env.worker_bin,
                   TASKMILL_MASTER_HOST=h.HOST,
                   TASKMILL_WORKER_ARGS=" ".join(ports.worker_args()[1:]))
    log = env.path("sbatch.log")
    p = run(["sbatch", "--wait", "--nodes=1", "--output=" + log, "--chdir=" + env.tmp,
             deploy_file("slurm", "taskmill.sbatch"), job] + ports.master_args(),
            timeout=h.scaled(60), env=environ)
    batch_log = h._read_text(log)
    h.check_eq(p.returncode, 0, "sbatch --wait exit status (the master's): %s%s\n%s"
               % (p.stdout, p.stderr, batch_log[-2000:]))
    job_id = re.search(r"Submitted batch job (\d+)", p.stdout).group(1)
    results = h.read_results(env.path("taskmill-results-%s.jsonl" % job_id))
    by_seq = h.check_exactly_once(results, tasks)
    h.check_eq({r["worker"] for r in by_seq.values()}, {"localhost"},
               "worker ids (the node's name)")
    h.check_eq(h.read_summary(env.path("taskmill-summary-%s.json" % job_id))["exit_status"], 0,
               "summary exit status")
    h.check("taskmill: master on 127.0.0.1" in batch_log, "batch log: %r" % batch_log[-500:])
    env.note("Slurm job %s: %d tasks in %.1f s from submission" % (job_id, tasks,
                                                                   time.monotonic() - started))


# --------------------------------------------------------------------------
#  (11) the .deb

def needed_packages(binaries):
    """The Debian packages that hold the libraries the binaries link
    directly (readelf NEEDED, resolved by ldd, owner by dpkg -S)."""
    packages = {}
    for binary in binaries:
        dynamic = run(["readelf", "-d", binary]).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", run(["ldd", binary]).stdout, re.M))
        for library in needed:
            path = resolved.get(library)
            h.check(path, "ldd does not resolve %s of %s" % (library, binary))
            owner = run(["dpkg", "-S", os.path.realpath(path)])
            if owner.returncode != 0:
                owner = run(["dpkg", "-S", path])
            h.check(owner.returncode == 0, "no package owns %s" % path)
            packages[owner.stdout.split(":")[0].split(",")[0].strip()] = library
    return packages


def man_text(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"\\f[BIRP]|\\/|\\,", "", text).replace("\\-", "-")


def test_deb_package(env):
    need_build()
    need("cpack", "dpkg-deb", "dpkg-shlibdeps", "readelf")
    out = env.path("pkg")
    p = run(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake")],
            cwd=BUILD, timeout=120)
    h.check(p.returncode == 0, "cpack -G DEB failed: %s%s" % (p.stdout, p.stderr))
    debs = glob.glob(os.path.join(out, "taskmill_*.deb"))
    h.check_eq(len(debs), 1, "packages made")
    deb = debs[0]
    info = run(["dpkg-deb", "-I", deb]).stdout
    depends_line = re.search(r"^ Depends: (.*)$", info, re.M)
    h.check(depends_line, "no Depends in dpkg-deb -I:\n%s" % info)
    depends = {d.strip().split()[0] for d in depends_line.group(1).split(",")}
    binaries = [os.path.join(BUILD, "master", "taskmill-master"),
                os.path.join(BUILD, "worker", "taskmill-worker"),
                os.path.join(BUILD, "cli", "taskmill")]
    needed = needed_packages(binaries)
    missing = sorted("%s (for %s)" % (pkg, lib) for pkg, lib in needed.items()
                     if pkg not in depends)
    h.check(not missing, "Depends lacks %s: %s" % (missing, depends_line.group(1)))
    for pkg in ("libczmq4", "libzmq5", "libprotobuf-c1", "libjansson4", "libssl3", "libsimdjson14"):
        h.check(pkg in depends, "Depends lacks %s: %s" % (pkg, depends_line.group(1)))
    env.note("Depends: %s" % depends_line.group(1))
    simulated = run(["apt-get", "install", "--simulate", "--no-install-recommends", deb],
                    timeout=60)
    h.check(simulated.returncode == 0 and re.search(r"^Inst taskmill ", simulated.stdout, re.M),
            "apt-get could not install the .deb here: %s%s" % (simulated.stdout[-800:],
                                                             simulated.stderr[-800:]))

    root = env.path("root")
    p = run(["dpkg", "-x", deb, root])
    h.check_eq(p.returncode, 0, "dpkg -x: %s" % p.stderr)
    for program, binary in zip(("taskmill-master", "taskmill-worker", "taskmill"), binaries):
        installed = os.path.join(root, "usr", "bin", program)
        p = run([installed, "--help"])
        h.check(p.returncode == 0 and p.stdout.startswith("Usage: "),
                "%s --help from the package: exit %d, %r" % (program, p.returncode, p.stdout[:200]))
        h.check_eq(p.stdout, run([binary, "--help"]).stdout, "%s --help: package and build"
                   % program)
        page = os.path.join(root, "usr", "share", "man", "man1", program + ".1.gz")
        h.check(os.path.isfile(page), "no man page %s" % page)
        text = man_text(page)
        h.check(re.search(r'^\.TH "?%s"? "?1"? ' % re.escape(program.upper()), text, re.M),
                "%s: no .TH line" % page)
        for option in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", p.stdout))):
            h.check(option in text,
                    "man page of %s lacks %s, which --help lists" % (program, option))
    share = os.path.join(root, "usr", "share", "taskmill", "deploy")
    expected = ["ssh-cluster.sh", "slurm/taskmill.sbatch"]
    for sub in ("systemd", "container", "k8s"):
        for path in glob.glob(os.path.join(DEPLOY, sub, "**", "*"), recursive=True):
            if os.path.isfile(path):
                expected.append(os.path.relpath(path, DEPLOY))
    for rel in expected:
        packaged = os.path.join(share, rel)
        h.check(os.path.isfile(packaged), "the package lacks deploy/%s" % rel)
        h.check_eq(read(packaged), read(os.path.join(DEPLOY, rel)), "packaged deploy/%s" % rel)
    h.check(os.access(os.path.join(share, "ssh-cluster.sh"), os.X_OK),
            "ssh-cluster.sh is not executable")
    for unit in UNITS:
        packaged = os.path.join(root, "usr", "lib", "systemd", "system", unit)
        h.check(os.path.isfile(packaged), "the package lacks the unit %s" % unit)
        h.check_eq(read(packaged), read(deploy_file("systemd", unit)), "packaged unit %s" % unit)
    for rel in ("usr/include/taskmill/plugin.h", "usr/lib/pkgconfig/taskmill-plugin.pc"):
        h.check(os.path.isfile(os.path.join(root, rel)), "the package lacks %s" % rel)
    env.note("%s: %d bytes" % (os.path.basename(deb), os.path.getsize(deb)))


if __name__ == "__main__":
    h.main([test_shellcheck_every_script, test_ssh_launcher_dry_run,
            test_ssh_launcher_starts_and_drains, test_systemd_units, test_dockerfile, test_compose,
            test_yamllint, test_k8s_schemas, test_k8s_manifests_agree, test_deploy_options_exist,
            test_sbatch_syntax, test_sbatch_runs_a_job, test_deb_package], __doc__)

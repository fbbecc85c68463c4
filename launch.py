"""Start a job on MXNet's parameter server: one scheduler, S servers and W workers, each running
COMMAND with the DMLC_* environment that tells it its role and where the scheduler listens.

    python launch.py -n 2 -s 1 --local -- python train_action.py --config C --kvstore dist_sync
    python launch.py -n 8 -s 2 --hosts hosts.txt -- python train_action.py --config C \
        --kvstore dist_device_sync --gpus 0,1,2,3

Roles (ps-lite): every process runs COMMAND; importing mxnet with DMLC_ROLE=scheduler or server
runs that role and exits when the workers are done, so only workers reach the script's code.
--local: every process on this machine, the scheduler on 127.0.0.1 (for tests and one-machine
jobs). --hosts FILE: one host name a line (# comments); servers and workers are placed on them in
turn over ssh (``ssh -tt``, so a remote process ends with its connection), started in this
directory (it must exist on every host, as on a shared filesystem); the scheduler runs here and
listens on --root-uri (default: this machine's address).

Failure ends the job, never a hang: launch.py watches every process, and the first one that
ends badly (a non-zero status, a signal, a server or the scheduler ending before the workers)
stops all the others (SIGTERM, then SIGKILL after --grace seconds) and ends launch.py with one
line naming it and status 1. A worker also stops by itself when the rendezvous does not complete
in train.kvstore_timeout seconds. A training job then continues with --resume.
"""
import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

from common import cli

POLL = 0.2  # seconds between checks of the processes


def free_port(host):
    """A TCP port nobody listens on now (the kernel's choice) for the scheduler."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def read_hosts(path):
    """The host file: one host a line; blank lines and # comments ignored."""
    try:
        with open(path) as f:
            hosts = [l.split("#")[0].strip() for l in f]
    except OSError as err:
        raise SystemExit(f"error: --hosts {path}: {err.strerror}") from None
    hosts = [h for h in hosts if h]
    if not hosts:
        raise SystemExit(f"error: --hosts {path} names no host")
    return hosts


def roles(workers, servers):
    """[(role, index)]: the scheduler, then the servers, then the workers."""
    return [("scheduler", 0)] + [("server", i) for i in range(servers)] + \
        [("worker", i) for i in range(workers)]


def dmlc_env(role, root_uri, port, workers, servers):
    return dict(DMLC_ROLE=role, DMLC_PS_ROOT_URI=root_uri, DMLC_PS_ROOT_PORT=str(port),
                DMLC_NUM_WORKER=str(workers), DMLC_NUM_SERVER=str(servers))


def ssh_command(host, env, command):
    """COMMAND on ``host`` in this directory with ``env`` exported."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    remote = f"cd {shlex.quote(os.getcwd())} && env {exports} {' '.join(map(shlex.quote, command))}"
    return ["ssh", "-tt", "-o", "BatchMode=yes", host, remote]


class Job:
    """The job's processes, each in its own process group (so its DataLoader workers end too)."""

    def __init__(self):
        self.procs = []  # (name, Popen)

    def start(self, name, cmd, env):
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        self.procs.append((name, proc))

    def stop(self, grace):
        """SIGTERM every running process group, SIGKILL what is left after ``grace`` s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for _, proc in self.procs:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
            deadline = time.time() + grace
            while time.time() < deadline and any(p.poll() is None for _, p in self.procs):
                time.sleep(POLL)
        for _, proc in self.procs:
            proc.wait()

    def failure(self):
        """The first process that ended badly (a non-zero status or a signal), as a line, or
        None."""
        for name, proc in self.procs:
            code = proc.poll()
            if code is None or code == 0:
                continue
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else \
                f"exited with status {code}"
            return f"{name} (pid {proc.pid}) {how}"
        return None

    def done(self):
        return all(p.poll() is not None for _, p in self.procs)


def watch(job, grace, finish_timeout):
    """Wait for the job -> 0 when every process ended well; otherwise stop the rest, print one
    line, 1. Once one process has ended well (the job is finishing: ps-lite's last barrier), the
    others get ``finish_timeout`` s: a scheduler that left early would hold the workers forever."""
    first_end = None
    while not job.done():
        failed = job.failure()
        if failed:
            running = sum(p.poll() is None for _, p in job.procs)
            job.stop(grace)
            print(f"error: {failed}; stopped the job's {running} other running processes "
                  f"(a training job continues from its last checkpoint with --resume)",
                  file=sys.stderr)
            return 1
        ended = [n for n, p in job.procs if p.poll() is not None]
        if ended and first_end is None:
            first_end = time.time()
        if first_end is not None and time.time() - first_end > finish_timeout:
            running = [n for n, p in job.procs if p.poll() is None]
            job.stop(grace)
            print(f"error: {ended[0]} ended but {running[0]} (of {len(running)} still running) "
                  f"did not end within {finish_timeout:g} s; stopped the job", file=sys.stderr)
            return 1
        time.sleep(POLL)
    failed = job.failure()
    if failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    return 0


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("-n", "--workers", type=int, required=True, help="worker processes")
    parser.add_argument("-s", "--servers", type=int, required=True, help="server processes")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="every process on this machine")
    where.add_argument("--hosts", help="a file of host names, one a line (ssh)")
    parser.add_argument("--root-uri", help="--hosts: the address the other hosts reach this "
                        "machine's scheduler at (default: this host name's address)")
    parser.add_argument("--port", type=int, default=0, help="the scheduler's port (0: a free one)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="more environment for every process, e.g. DMLC_INTERFACE=ib0")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds between SIGTERM and SIGKILL when the job is stopped")
    parser.add_argument("--finish-timeout", type=float, default=60.0,
                        help="seconds the servers and scheduler get to end after the workers")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command after --, e.g. -- python train_action.py ...")
    if args.workers < 1 or args.servers < 1:
        parser.error("-n and -s must be >= 1")
    if any("=" not in e for e in args.env):
        parser.error("--env takes KEY=VALUE")
    return args


def main(argv=None):
    args = parse_args(argv)
    hosts = None if args.local else read_hosts(args.hosts)
    if args.local:
        root_uri = "127.0.0.1"
    else:
        root_uri = args.root_uri or socket.gethostbyname(socket.gethostname())
    port = args.port or free_port("127.0.0.1" if args.local else "")
    extra = dict(e.split("=", 1) for e in args.env)
    job = Job()
    placed = 0
    for role, i in roles(args.workers, args.servers):
        env = dict(extra, **dmlc_env(role, root_uri, port, args.workers, args.servers))
        name = role if role == "scheduler" else f"{role} {i}"
        if args.local or role == "scheduler":
            if args.local:
                env["DMLC_NODE_HOST"] = "127.0.0.1"  # ps-lite would pick an interface's address
            job.start(name, args.command, dict(os.environ, **env))
        else:
            host = hosts[placed % len(hosts)]
            placed += 1
            job.start(f"{name} on {host}", ssh_command(host, env, args.command), os.environ)

    def interrupted(signum, frame):
        job.stop(args.grace)
        print(f"error: launch.py got {signal.Signals(signum).name}; stopped the job",
              file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    return watch(job, args.grace, args.finish_timeout)


if __name__ == "__main__":
    sys.exit(main())

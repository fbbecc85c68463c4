"""Two builds of one model timed call by call in alternation: the ratio of their times, with its
interval, where the two differ in what one process cannot hold both of - the checkout (another
commit's code) or the environment a process starts with (``MXNET_ENGINE_TYPE``,
``GLIBC_TUNABLES``, ``DNNL_MAX_CPU_ISA`` ...).

    python -m tools.bench_ab --base DIR [--model i3d_resnet50] [--variant fused] [--calls 30]
    python -m tools.bench_ab --env-b MXNET_ENGINE_TYPE=NaiveEngine
    make bench-ab BASE=<commit>      # <commit>'s code (A) against this checkout's (B)

Why: on a shared machine the speed of one build can drift by half within an hour, more than
most changes are worth, and separate runs minutes apart do not compare. Here side A and
side B are two processes, each with its model built and warmed up, that take turns: one call
of A, one of B, then B before A (so neither always goes first), each call 50 ms after the
other side's, which lets the other side's OpenMP threads fall asleep. Each pair of calls sees
the same machine, and the ratio B / A of each pair is what is summarised: its median, a 95 %
bootstrap interval of that median (pairs resampled), and how many pairs B won; with fewer
than ``MIN_PAIRS`` pairs it decides nothing.

Each side loads the model through ``tools.bench_speed.built`` of its own checkout (``--base``:
a directory holding another commit's files, as ``make bench-ab`` unpacks with ``git archive``),
at ``--threads`` OpenMP threads (the physical cores).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAUSE = 0.05  # seconds before each call: the other side's OpenMP threads stop spinning
MIN_PAIRS = 10  # fewer pairs: the bootstrap's interval is too narrow to mean anything
TAG = "BENCH_AB "  # a side's answer; other lines on its stdout (DNNL_VERBOSE's trace) are passed
# One side: builds the model with its checkout's code, says "ready", then times one call per
# "go" line on stdin and prints the milliseconds after TAG; "stop" ends it. Kept to what every
# checkout with tools.bench_speed.built(name, variant, x, for_inference) has (for_inference
# lived in engine/precision.py before engine/ was split by role).
CHILD = r"""
import json, sys, time
sys.path.insert(0, ".")
import mxnet as mx
import numpy as np
try:
    from engine.inference.precision import for_inference
except ImportError:
    from engine.precision import for_inference
from tools.bench_speed import built, input_shape
name, variant, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = mx.nd.array(np.random.RandomState(0).uniform(-1, 1, (batch,) + input_shape(name)),
                dtype="float32")
run = built(name, variant, x, for_inference)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    time.sleep(PAUSE)
    tic = time.perf_counter()
    for out in run(x):
        out.wait_to_read()
    print("TAG" + json.dumps((time.perf_counter() - tic) * 1e3), flush=True)
""".replace("PAUSE", repr(PAUSE)).replace("TAG", TAG)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", help="side A's checkout (default: this one)")
    p.add_argument("--base-name", help="what side A's checkout is, for the record (a commit)")
    p.add_argument("--env-a", nargs="*", default=[], metavar="KEY=VALUE",
                   help="environment of side A's process")
    p.add_argument("--env-b", nargs="*", default=[], metavar="KEY=VALUE",
                   help="environment of side B's process (side B is this checkout)")
    p.add_argument("--model", default="i3d_resnet50")
    p.add_argument("--variant", default="fused", help="plain, fused, int8 (tools.bench_speed)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--calls", type=int, default=30, help="timed calls of each side")
    p.add_argument("--threads", type=int, help="OpenMP threads (default: the physical cores)")
    p.add_argument("--out", default="bench_ab.json")
    return p.parse_args(argv)


def environment(pairs, threads):
    """os.environ with ``KEY=VALUE`` pairs and the thread count set (a pair may override it)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("PYTHONPATH", None)  # each side imports from its own checkout only
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"environment setting {pair!r} is not KEY=VALUE")
        env[key] = value
    return env


class Side:
    """One side's process, which answers each ``call()`` with one call's milliseconds."""

    def __init__(self, label, command, cwd, env):
        self.label = label
        # stderr to a file, not a pipe: a side that logs much would fill a pipe nobody reads
        # and stop
        self.stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        try:
            while self._line() != "ready":  # what MXNet or the model prints while it is built
                pass
        except RuntimeError:
            self.close()
            raise

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            tail = [l.strip() for l in self.stderr.read().splitlines() if l.strip()]
            raise RuntimeError(f"side {self.label} stopped (exit status {self.proc.returncode})"
                               f": {tail[-1] if tail else 'no message'}")
        return line.strip()

    def call(self):
        try:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
        except OSError:  # it has stopped: _line says how
            pass
        line = self._line()
        while not line.startswith(TAG):  # oneDNN's verbose trace goes to stdout too
            line = self._line()
        try:
            return float(json.loads(line[len(TAG):]))
        except ValueError:
            raise RuntimeError(f"side {self.label} answered {line[:80]!r}, not a time") from None

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            except OSError:  # it has gone already
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            stream.close()


def alternate(a, b, calls):
    """``calls`` pairs, A then B in even pairs and B then A in odd ones -> (ms of A, ms of B,
    the order the calls were made in)."""
    times, order = {"A": [], "B": []}, []
    for i in range(calls):
        for side in (a, b) if i % 2 == 0 else (b, a):
            times[side.label].append(side.call())
            order.append(side.label)
    return times["A"], times["B"], order


def paired(a_ms, b_ms, resamples=2000, seed=0):
    """The ratio B / A of each pair summarised: its median, a 95 % bootstrap interval of the
    median (pairs drawn with replacement, ``seed`` fixed: the same times give the same
    interval), and the pairs in which B was faster."""
    a, b = np.asarray(a_ms, float), np.asarray(b_ms, float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("paired needs the same number of times, at least one, on both sides")
    ratio = b / a
    draws = np.random.RandomState(seed).randint(0, ratio.size, (resamples, ratio.size))
    medians = np.median(ratio[draws], axis=1)
    return dict(ratio=float(np.median(ratio)),
                interval=[float(np.percentile(medians, 2.5)),
                          float(np.percentile(medians, 97.5))],
                b_faster=int((ratio < 1).sum()), pairs=int(ratio.size),
                a_ms=float(np.median(a)), b_ms=float(np.median(b)))


def verdict(summary):
    """One line: which side is faster, shown only where the interval excludes 1 and there are
    ``MIN_PAIRS`` pairs or more."""
    if summary["pairs"] < MIN_PAIRS:
        return f"undecided (fewer than {MIN_PAIRS} pairs)"
    lo, hi = summary["interval"]
    if hi < 1:
        return "B is faster (the interval lies below 1)"
    if lo > 1:
        return "A is faster (the interval lies above 1)"
    return "undecided (the interval holds 1)"


def report(result):
    s = result["summary"]
    sides = "".join(f"{k.upper()}: {' '.join([result[k]['name']] + result[k]['env'])}\n"
                    for k in ("a", "b"))
    return (f"machine: {result['machine']}\n" + sides +
            f"{result['model']}, {result['variant']}, batch {result['batch']}, "
            f"{result['threads']} thread(s), {s['pairs']} pairs of calls\n"
            f"A {s['a_ms']:.1f} ms, B {s['b_ms']:.1f} ms (medians); B / A {s['ratio']:.3f} "
            f"(95 % interval {s['interval'][0]:.3f}-{s['interval'][1]:.3f}), B faster in "
            f"{s['b_faster']} of {s['pairs']}: {verdict(s)}")


def main(argv=None):
    from common.cli import physical_cores
    from common.errors import check_writable, exit_on_error
    from common.files import atomic_write_text
    from engine.inference import hardware
    args = parse_args(argv)
    threads = args.threads or physical_cores()
    base = os.path.abspath(args.base or HERE)
    with exit_on_error():
        if not os.path.isfile(os.path.join(base, "tools", "bench_speed.py")):
            raise ValueError(f"--base {base}: no tools/bench_speed.py there; give a checkout "
                             f"of this project (make bench-ab BASE=<commit> unpacks one)")
        if args.calls < 1:
            raise ValueError(f"--calls {args.calls}: at least one call a side")
        check_writable(os.path.dirname(os.path.abspath(args.out)))
        command = [sys.executable, "-c", CHILD, args.model, args.variant, str(args.batch)]
        env_a, env_b = environment(args.env_a, threads), environment(args.env_b, threads)
        sides = []
        try:
            sides.append(Side("A", command, base, env_a))
            sides.append(Side("B", command, HERE, env_b))
            a_ms, b_ms, _ = alternate(sides[0], sides[1], args.calls)
        finally:
            for side in sides:
                side.close()
        result = dict(machine=hardware.describe_line(dict(hardware.describe(), threads=threads)),
                      model=args.model, variant=args.variant, batch=args.batch,
                      threads=threads,
                      a=dict(name=args.base_name or base, checkout=base, env=args.env_a, ms=a_ms),
                      b=dict(name=HERE, checkout=HERE, env=args.env_b, ms=b_ms),
                      summary=paired(a_ms, b_ms))
        atomic_write_text(args.out, json.dumps(result, indent=1))
        print(report(result))


if __name__ == "__main__":
    main()

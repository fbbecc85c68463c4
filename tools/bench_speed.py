"""The ``speed`` section of ``make bench``: inference as a user runs it by default and at the
machine's speed, in one sitting.

    python -m tools.bench_speed [--models action_machine_r18] [--batches 1] [--rounds 3]

Settings (each model, each batch):
- ``default``: one compute thread (MXNet's own default on a machine without hyperthreads: it
  takes half the processors), the network hybridized with static memory;
- at all physical cores: ``plain`` (the same graph), ``fused`` (float32, oneDNN's fused graph,
  what eval.dtype=float32 runs), ``int8`` (engine/inference/int8.py, naive thresholds from random clips:
  the speed does not depend on them), and ``bfloat16`` where the CPU has it (else skipped with
  the reason).
MXNet reads its thread count once, when it loads, so each thread count runs in a process of its
own; the processes alternate (one round: a 1-thread process, then an all-cores one, ``--rounds``
times) and every variant inside one is timed in turn, so a neighbour's load falls on all of them
alike. Reported per setting: the median over rounds of each round's median time, the spread
(lowest and highest round), the ratio to ``default`` of the same round, GFLOP/s (GOP/s for int8;
2 x MACs / s) and the share of NumPy's SGEMM measured in that process at that thread count.

The test protocol (``--protocol``, AM-R18): the seconds one test video's 30 views (10 clips x 3
crops) take through ``engine.metrics.scoring.video_scores`` as ``eval_action.py`` scores them, in videos/s:
``default`` as evaluation ran with one thread (the trainable network: batch norm on the 4D view),
against every dtype at all cores (the inference network); one view a batch
(``eval.views_per_batch=1``: on a CPU 30 a batch is slower, and the trainable network's batch of
30 does not fit in 24 GiB).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = "--child"
VARIANTS = ("plain", "fused", "int8", "bfloat16")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="i3d_resnet50,action_machine_r18,action_machine_r50,"
                                            "softargmax_pose,softargmax_multitask")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls a round")
    parser.add_argument("--threads", type=int, help="all cores (default: the physical cores)")
    parser.add_argument("--protocol", type=int, default=1,
                        help="rounds of the test-protocol rows (0: none)")
    parser.add_argument("--out", default="bench_speed.json")
    parser.add_argument(CHILD, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- one process: one thread count ------------------------------------------------------------

def child(job):
    """Runs in a process whose OMP_NUM_THREADS is set: times ``job``'s variants, prints JSON."""
    import mxnet as mx
    import numpy as np

    from common.errors import one_line
    from engine.inference import hardware
    from engine.inference.precision import check_dtype, for_inference
    from tools.bench_common import timed
    rs = np.random.RandomState(0)
    a, b = rs.rand(2048, 2048).astype(np.float32), rs.rand(2048, 2048).astype(np.float32)
    sgemm = 2 * 2048 ** 3 / timed(lambda: a @ b, 3) / 1e9
    out = dict(machine=hardware.describe(), sgemm_gflops=sgemm, rows=[])
    ctx = mx.cpu()
    for name, batch, variants in job["runs"]:
        x = mx.nd.random.uniform(-1, 1, shape=(batch,) + input_shape(name), ctx=ctx)
        runs = {}
        for variant in variants:
            try:
                if variant == "bfloat16":
                    check_dtype("bfloat16", ctx)
                runs[variant] = built(name, variant, x, for_inference)
            except (ValueError, RuntimeError) as err:  # no such dtype here; a oneDNN failure
                out["rows"].append(dict(model=name, batch=batch, variant=variant,
                                        skipped=one_line(err)))
        times = {v: [] for v in runs}
        for _ in range(job["repeats"]):  # interleaved: each variant once, in turn
            for variant, run in list(runs.items()):
                tic = time.perf_counter()
                try:
                    for o in run(x):
                        o.wait_to_read()
                except RuntimeError as err:  # MXNetError is one
                    out["rows"].append(dict(model=name, batch=batch, variant=variant,
                                            skipped="failed: " + one_line(err)))
                    del runs[variant], times[variant]
                    continue
                times[variant].append(time.perf_counter() - tic)
        for variant, t in times.items():
            out["rows"].append(dict(model=name, batch=batch, variant=variant,
                                    seconds=statistics.median(t)))
        runs = None
    if job.get("protocol"):
        out["protocol"] = protocol(job["protocol"], for_inference)
    print("BENCH " + json.dumps(out))


def input_shape(name):
    from symbols import get_model
    c = get_model(name).config
    if getattr(c, "parts", None) == "pose":
        return (3, c.input_size, c.input_size)
    return (3, c.num_frames, c.input_size, c.input_size)


def network(name, inference=True):
    from symbols import MODELS, get_model
    options = (dict(bn_fold_time=not inference, shortcut="subsample" if inference else "strided")
               if MODELS[name] == "action_machine" else {})
    net = get_model(name, **options)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def built(name, variant, x, for_inference):
    """``name`` as ``variant`` runs it, warmed up on ``x``."""
    import mxnet as mx
    import numpy as np

    from engine.inference import int8
    net = network(name)
    if variant == "plain":
        run = net
    elif variant == "int8":
        clips = np.random.RandomState(1).uniform(-1, 1, (4,) + x.shape[1:]).astype(np.float32)
        # what eval.int8_float32 keeps float32 by default, where the network has it
        parts = [p for p in ("pose_head",) if int8.part(net, p) is not None]
        run = for_inference(net, "int8", mx.cpu(), thresholds=int8.calibrate(
            net, clips, "naive", parts), float32_parts=parts)
    else:
        run = for_inference(net, "float32" if variant == "fused" else variant, mx.cpu())
    for _ in range(2):
        for o in run(x):
            o.wait_to_read()
    return run


def protocol(variants, for_inference):
    """{variant: seconds for one video's 30 views} through engine.metrics.scoring.video_scores."""
    import mxnet as mx

    from engine.metrics.scoring import video_scores
    views = mx.nd.random.uniform(-1, 1, shape=(30, 3, 8, 224, 224))
    found = {}
    for variant in variants:
        if variant == "default":
            run = network("action_machine_r18", inference=False)
        else:
            run = built("action_machine_r18", variant, views[:1], for_inference)
        video_scores(run, views[:1], mx.cpu(), 1)  # warm-up
        tic = time.perf_counter()
        video_scores(run, views, mx.cpu(), 1)
        found[variant] = time.perf_counter() - tic
        run = None
    return found


# --- the parent: processes alternating, then the table ----------------------------------------

def run_child(threads, job):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-m", "tools.bench_speed", CHILD, json.dumps(job)],
                          env=env, capture_output=True, text=True)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCH ")), None)
    if proc.returncode or line is None:
        sys.stderr.write(proc.stderr[-3000:])
        raise RuntimeError(f"bench process ({threads} threads) failed: "
                           f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(line[len("BENCH "):])


def macs_of(name):
    from symbols import get_model
    from symbols.summary import summarize
    return sum(r[3] for r in summarize(get_model(name), (1,) + input_shape(name)))


def measure(models, batches, rounds, repeats, threads, protocol_rounds=0):
    """-> the section's dict: every round's processes, and the rows summarised over rounds."""
    runs_all = [(m, b, list(VARIANTS)) for m in models for b in batches]
    runs_one = [(m, b, ["plain"]) for m in models for b in batches]
    processes = []
    for r in range(max(rounds, protocol_rounds)):
        proto = r < protocol_rounds
        one = dict(runs=runs_one if r < rounds else [], repeats=repeats,
                   protocol=["default"] if proto else None)
        every = dict(runs=runs_all if r < rounds else [], repeats=repeats,
                     protocol=["plain", "fused", "int8"] if proto else None)
        for t, job in ((1, one), (threads, every)) if r % 2 == 0 else ((threads, every),
                                                                          (1, one)):
            processes.append(dict(round=r, threads=t, **run_child(t, job)))
    return summarise(processes, {m: macs_of(m) for m in models}, threads)


def summarise(processes, macs, threads):
    rows, by_key = [], {}
    for p in processes:
        for row in p["rows"]:
            setting = "default" if p["threads"] == 1 else row["variant"]
            key = (row["model"], row["batch"], setting)
            entry = by_key.setdefault(key, dict(model=row["model"], batch=row["batch"],
                                                setting=setting, threads=p["threads"],
                                                seconds=[], sgemm_gflops=[], ratio=[]))
            if "skipped" in row:
                entry["skipped"] = row["skipped"]
                continue
            entry["seconds"].append(row["seconds"])
            entry["sgemm_gflops"].append(p["sgemm_gflops"])
            entry["round"] = entry.get("round", []) + [p["round"]]
    for (model, batch, setting), e in by_key.items():
        base = by_key[(model, batch, "default")]
        if "skipped" not in e:
            per_round = dict(zip(base.get("round", []), base["seconds"]))
            e["ratio"] = [per_round[r] / s for r, s in zip(e["round"], e["seconds"])
                          if r in per_round]
            med = statistics.median(e["seconds"])
            e.update(ms=1000 * med / batch, ms_range=[1000 * min(e["seconds"]) / batch,
                                                      1000 * max(e["seconds"]) / batch],
                     gops=2 * macs[model] * batch / med / 1e9,
                     sgemm=statistics.median(e["sgemm_gflops"]))
            e["share_of_sgemm"] = e["gops"] / e["sgemm"]
        rows.append(e)
    order = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in rows))}
    settings = ("default",) + VARIANTS
    rows.sort(key=lambda r: (order[r["model"]], r["batch"], settings.index(r["setting"])))
    proto = {}
    for p in processes:
        for variant, seconds in (p.get("protocol") or {}).items():
            proto.setdefault(variant, dict(threads=p["threads"], seconds=[]))["seconds"].append(
                seconds)
    for variant, e in proto.items():
        e["videos_per_s"] = 1 / statistics.median(e["seconds"])
    if "default" in proto:
        for e in proto.values():
            e["ratio"] = e["videos_per_s"] / proto["default"]["videos_per_s"]
    machine = next(p["machine"] for p in processes if p["threads"] == threads)
    return dict(machine=machine, threads=threads, rows=rows, protocol=proto,
                processes=len(processes))


def markdown_speed(s):
    lines = [f"| speed {r['model']} | batch {r['batch']}, {r['setting']}, "
             f"{r['threads']} thread(s) | skipped: {r['skipped']} |"
             for r in s["rows"] if "skipped" in r]
    for r in s["rows"]:
        if "skipped" in r:
            continue
        unit = "GOP/s" if r["setting"] == "int8" else "GFLOP/s"
        ratio = (f"x{statistics.median(r['ratio']):.2f} (x{min(r['ratio']):.2f}-"
                 f"{max(r['ratio']):.2f})" if r["ratio"] else "")
        lines.append(f"| speed {r['model']} | batch {r['batch']}, {r['setting']}, "
                     f"{r['threads']} thread(s) | {r['ms']:.0f} ms/item ({r['ms_range'][0]:.0f}-"
                     f"{r['ms_range'][1]:.0f}), {ratio} of default, {r['gops']:.1f} {unit}, "
                     f"{100 * r['share_of_sgemm']:.0f} % of NumPy SGEMM "
                     f"({r['sgemm']:.0f} GFLOP/s) |")
    for variant, e in s["protocol"].items():
        lines.append(f"| test protocol AM-R18 | 30 views a video, {variant}, {e['threads']} "
                     f"thread(s) | {e['videos_per_s']:.3f} videos/s"
                     + (f" (x{e['ratio']:.2f} of default)" if "ratio" in e else "") + " |")
    return lines


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    from common.cli import physical_cores
    from common.files import atomic_write_text
    from engine.inference import hardware
    threads = args.threads or physical_cores()
    s = measure(args.models.split(","), [int(b) for b in args.batches.split(",")], args.rounds,
                args.repeats, threads, args.protocol)
    atomic_write_text(args.out, json.dumps(s, indent=1))
    print(f"machine: {hardware.describe_line(s['machine'])}")
    print("\n".join(["| section | setting | result |", "| --- | --- | ---: |"] +
                    markdown_speed(s)))


if __name__ == "__main__":
    main()

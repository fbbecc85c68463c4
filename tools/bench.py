"""make bench: measured costs of the pipeline on this machine, as JSON and a markdown table.

Sections (``--sections``, comma-separated):
- ``matmul``: GFLOP/s of a large single-precision matrix product, the machine's practical ceiling.
- ``latency``: median time per 8x224x224 clip (after warm-up) of I3D-R50 + RGB head alone and of
  Action Machine with the ResNet-18 and ResNet-50 pose CNNs, hybridized with static memory, at
  batch 1 and 8; ratios to I3D; MACs from ``symbols.summary``; achieved GFLOP/s (2 x MACs / s).
- ``train``: time of one training step per clip, tiny and paper-size models (batch 2 on CPU),
  and the process's peak resident memory.
- ``loader``: training clips/s of the clip pipeline with 0, 1 and 2 worker processes.
- ``softargmax``: the second system (Luvizon et al. 2018) beside Action Machine: median time of
  its pose model on one 256x256 image and of its multitask model on one clip of its own
  (20x256x256, NTU's setting), batch 1, with MACs and GFLOP/s; per clip, against Action
  Machine-R18's 8x224x224 clip from the ``latency`` section when both ran.
- ``detector``: frames/s of the paper's person detector (Deformable R-FCN ResNet-101, random
  weights, the release's test scale: shorter side 600, longer <= 1000), resize + network + NMS,
  on N-UCLA-sized (640x480) and NTU-sized (1920x1080) frames, and what a pass over NTU's ~4 M
  frames would take at that rate.
- ``precision`` (precision.py): the ceilings measured in this process (NumPy's float32 SGEMM,
  MXNet's FullyConnected in float32 and bfloat16, n x n x n), then I3D, AM-R18 and AM-R50 at
  batch 1 and 8 and the detector (640x480 frames, batch 1) in float32 and bfloat16 (AMP), each
  with its GFLOP/s (2 x MACs / s, the same MACs in both precisions) and its share of NumPy's
  SGEMM; and the test protocol's views (``eval_action.video_scores``: V views of one video,
  AM-R18) one at a time against all V in one batch.
Numbers are measurements of one run, never asserted anywhere.
"""
import argparse
import json
import os
import platform
import resource
import tempfile
import time

import mxnet as mx
import numpy as np
from mxnet import autograd

from data import synth
from common.errors import exit_on_error
from common.files import atomic_write_text
from data.index import read_annotation, read_index, read_splits, write_poses
from data.loader import ClipDataset, make_loader
from data.prepare import prepare
from data.transforms import union_box
from engine.inference import hardware
from symbols import get_model
from symbols.action_machine import ActionMachineLoss
from symbols.detector import rfcn
from symbols.summary import count_params, summarize
from tools.bench_common import LATENCY_MODELS, detector_macs, model_macs, timed
from tools.bench_precision import bench_precision, markdown_precision

SOFTARGMAX_MODELS = ("softargmax_pose", "softargmax_multitask")
SECTIONS = ("matmul", "latency", "softargmax", "train", "loader", "detector", "precision")


def machine():
    return dict(hardware.describe(), platform=platform.platform(), cpus=os.cpu_count(),
                python=platform.python_version())


def synthetic_prepared(work):
    """A prepared synthetic benchmark in ``work`` (made once, reused by later runs)."""
    raw, out = os.path.join(work, "raw"), os.path.join(work, "prepared")
    if not os.path.exists(os.path.join(out, "index.jsonl")):
        synth.generate(raw, subjects=2, repetitions=1, progress=False)
        prepare("synth", raw, out, workers=2, progress=False)
    return out


def bench_loader(prepared, size=112, clip_len=8, batch_size=8, batches=12, workers=(0, 1, 2)):
    samples = read_index(prepared)
    train = set(read_splits(prepared)["protocols"]["xview3"]["train"])
    samples = [s for s in samples if s["id"] in train]
    boxes, poses = {}, os.path.join(prepared, "poses_gt")
    for s in samples:
        kps, b = read_annotation(os.path.join(prepared, "annotations", s["id"] + ".npz"))
        boxes[s["id"]] = union_box(b)
        write_poses(poses, s["id"], kps)
    rows = []
    for n in workers:
        ds = ClipDataset(prepared, samples, boxes=boxes, poses_dir=poses, clip_len=clip_len,
                         stride=synth.STRIDE, size=size)
        loader = make_loader(ds, batch_size, shuffle=True, workers=n, last_batch="discard")
        it = iter(loader)
        next(it)  # warm-up: worker start and first decode
        start, clips = time.perf_counter(), 0
        for _ in range(batches):
            try:
                batch = next(it)
            except StopIteration:
                loader.sampler.set_epoch(loader.sampler.epoch + 1)
                it = iter(loader)
                batch = next(it)
            clips += batch[0].shape[0]
        rows.append(dict(workers=n, clips_per_s=clips / (time.perf_counter() - start),
                         clip=f"{clip_len}x{size}x{size}", batch=batch_size))
    return rows


def bench_matmul(ctx, n=4096, repeats=5):
    a = mx.nd.random.uniform(shape=(n, n), ctx=ctx)
    b = mx.nd.random.uniform(shape=(n, n), ctx=ctx)
    seconds = timed(lambda: mx.nd.dot(a, b).wait_to_read(), repeats)
    return dict(n=n, seconds=seconds, gflops=2 * n ** 3 / seconds / 1e9)


def bench_latency(ctx, batches=(1, 8), repeats=3):
    """Inference latency, hybridized with static memory. The models run with plain 5D batch
    norm (bn_fold_time=False): the 4D view that training on CPU needs costs a layout copy per
    layer and blocks oneDNN's conv + BN + ReLU fusion (measured: ~12 % of the time at batch 1
    and 15 GiB instead of 1.6 GiB at batch 8)."""
    rows = []
    for name in LATENCY_MODELS:
        macs, params = model_macs(name)
        net = get_model(name, ctx=ctx, bn_fold_time=False)
        net.hybridize(static_alloc=True, static_shape=True)
        for batch in batches:
            x = mx.nd.random.uniform(shape=(batch, 3, 8, 224, 224), ctx=ctx)

            def forward():
                for out in net(x):
                    out.wait_to_read()
            seconds = timed(forward, repeats)
            rows.append(dict(model=name, batch=batch, ms_per_clip=1000 * seconds / batch,
                             macs=macs, params=params,
                             gflops=2 * macs * batch / seconds / 1e9))
        net = None  # free this model before building the next
    for row in rows:
        base = next(r for r in rows if r["model"] == "i3d_resnet50" and r["batch"] == row["batch"])
        row["ratio_to_i3d"] = row["ms_per_clip"] / base["ms_per_clip"]
    return rows


def model_input(net):
    """The input shape one sample of a model takes: an image, or a clip of its frames."""
    c = net.config
    if getattr(c, "parts", None) == "pose":
        return (1, 3, c.input_size, c.input_size)
    return (1, 3, c.num_frames, c.input_size, c.input_size)


def bench_softargmax(ctx, repeats=2):
    rows = []
    for name in SOFTARGMAX_MODELS:
        net = get_model(name)
        shape = model_input(net)
        macs, params = sum(r[3] for r in summarize(net, shape)), count_params(net)
        net = get_model(name, ctx=ctx)
        net.hybridize(static_alloc=True, static_shape=True)
        x = mx.nd.random.uniform(shape=shape, ctx=ctx)

        def forward():
            for out in net(x):
                out.wait_to_read()
        seconds = timed(forward, repeats)
        rows.append(dict(model=name, input="x".join(map(str, shape[1:])), ms=1000 * seconds,
                         macs=macs, params=params, gflops=2 * macs / seconds / 1e9))
        net = None
    return rows


def bench_train_step(ctx, repeats=3):
    rows = []
    for name, batch in (("action_machine_tiny", 8), ("action_machine_r18", 2)):
        net = get_model(name, ctx=ctx)
        net.hybridize(static_alloc=True)
        c = net.config
        hm = c.input_size // net.stride
        x = mx.nd.random.uniform(shape=(batch, 3, c.num_frames, c.input_size, c.input_size),
                                 ctx=ctx)
        label = mx.nd.zeros((batch,), ctx=ctx)
        heat = mx.nd.zeros((batch, c.num_frames, c.num_keypoints, hm, hm), ctx=ctx)
        offsets = mx.nd.zeros((batch, c.num_frames, c.num_keypoints, 2, hm, hm), ctx=ctx)
        weight = mx.nd.ones((batch, c.num_frames, c.num_keypoints), ctx=ctx)
        criterion = ActionMachineLoss(c.heads)
        trainer = mx.gluon.Trainer(net.collect_params(), "sgd", dict(learning_rate=1e-4))

        def step():
            with autograd.record():
                total, _ = criterion(dict(zip(net.output_names, net(x))), label, heat, offsets,
                                     weight)
            total.backward()
            trainer.step(batch)
            mx.nd.waitall()
        seconds = timed(step, repeats)
        rows.append(dict(model=name, batch=batch, clip=f"{c.num_frames}x{c.input_size}",
                         s_per_clip=seconds / batch))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    return dict(steps=rows, peak_rss_mib=peak)


NTU_FRAMES = 4.0e6  # frames of NTU RGB+D 60, for the time a detection pass takes


def bench_detector(ctx, sizes=((480, 640), (1080, 1920)), batch=1, repeats=2):
    net = rfcn.get_detector("dcn_rfcn", None, ctx)
    rows = []
    for h, w in sizes:
        frames = np.random.RandomState(0).randint(0, 256, (batch, h, w, 3)).astype(np.uint8)
        x, im_info = rfcn.preprocess(frames, net.cfg)
        macs = detector_macs(x, im_info)
        seconds = timed(lambda: rfcn.detect(net, frames, ctx), repeats)
        fps = batch / seconds
        rows.append(dict(frame=f"{w}x{h}", input=f"{x.shape[3]}x{x.shape[2]}", batch=batch,
                         frames_per_s=fps, macs=macs, gflops=2 * macs * fps / 1e9,
                         ntu_pass_hours=NTU_FRAMES / fps / 3600))
    return rows


def markdown(results):
    lines = ["| section | setting | result |", "| --- | --- | ---: |"]
    if "matmul" in results:
        m = results["matmul"]
        lines.append(f"| matrix product (ceiling) | {m['n']}x{m['n']} fp32 | "
                     f"{m['gflops']:.1f} GFLOP/s |")
    for row in results.get("latency", []):
        lines.append(f"| latency {row['model']} | batch {row['batch']}, 8x224x224, "
                     f"{row['macs'] / 1e9:.2f} GMACs | {row['ms_per_clip']:.0f} ms/clip "
                     f"(x{row['ratio_to_i3d']:.2f} I3D, {row['gflops']:.1f} GFLOP/s) |")
    if "train" in results:
        for row in results["train"]["steps"]:
            lines.append(f"| train step {row['model']} | batch {row['batch']}, clip "
                         f"{row['clip']} | {row['s_per_clip']:.3f} s/clip |")
        lines.append(f"| peak memory (resident) | the whole bench process | "
                     f"{results['train']['peak_rss_mib']:.0f} MiB |")
    for row in results.get("loader", []):
        lines.append(f"| loader (train clips, pose targets) | {row['workers']} workers, "
                     f"{row['clip']} | {row['clips_per_s']:.1f} clips/s |")
    am = next((r for r in results.get("latency", []) if r["model"] == "action_machine_r18"
               and r["batch"] == 1), None)
    for row in results.get("softargmax", []):
        beside = f", x{row['ms'] / am['ms_per_clip']:.1f} AM-R18's clip" if am else ""
        lines.append(f"| latency {row['model']} | batch 1, {row['input']}, "
                     f"{row['macs'] / 1e9:.2f} GMACs, {row['params'] / 1e6:.1f} M params | "
                     f"{row['ms']:.0f} ms ({row['gflops']:.1f} GFLOP/s{beside}) |")
    for row in results.get("detector", []):
        lines.append(f"| detector dcn_rfcn R-101 | frame {row['frame']} -> {row['input']}, "
                     f"batch {row['batch']}, {row['macs'] / 1e9:.1f} GMACs | "
                     f"{row['frames_per_s']:.3f} frames/s ({row['gflops']:.1f} GFLOP/s; NTU "
                     f"4 M frames: {row['ntu_pass_hours']:.0f} h) |")
    if "precision" in results:
        lines += markdown_precision(results["precision"])
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "am_bench"))
    parser.add_argument("--out", default="bench_results.json")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--gpus", help="a GPU id to run the model sections on")
    parser.add_argument("--precision-batches", default="1,8",
                        help="precision section: the batch sizes of the model rows")
    parser.add_argument("--precision-views", type=int, default=30,
                        help="precision section: views of the eval-batching row (0: no row)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with exit_on_error():
        return run(args)


def run(args):
    sections = args.sections.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"--sections: unknown {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(SECTIONS)}")
    ctx = mx.gpu(int(args.gpus)) if args.gpus else mx.cpu()
    results = {"machine": dict(machine(), device=str(ctx))}
    if "matmul" in sections:
        results["matmul"] = bench_matmul(ctx)
    if "latency" in sections:
        results["latency"] = bench_latency(ctx)
    if "softargmax" in sections:
        results["softargmax"] = bench_softargmax(ctx)
    if "train" in sections:
        results["train"] = bench_train_step(ctx)
    if "loader" in sections:
        results["loader"] = bench_loader(synthetic_prepared(args.work))
    if "detector" in sections:
        results["detector"] = bench_detector(ctx)
    if "precision" in sections:
        results["precision"] = bench_precision(
            ctx, tuple(int(b) for b in args.precision_batches.split(",")),
            views=args.precision_views,
            dtypes=("float32", "float16") if args.gpus else ("float32", "bfloat16"))
    atomic_write_text(args.out, json.dumps(results, indent=2))
    print(f"machine: {hardware.describe_line(results['machine'])}")
    print(markdown(results))


if __name__ == "__main__":
    main()

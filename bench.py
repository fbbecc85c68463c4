"""make bench: measured costs of the pipeline on this machine, as JSON and a markdown table.

Sections: ``loader`` (training clips/s of the clip pipeline with 0, 1 and 2 worker processes, on
the synthetic benchmark). Numbers are measurements of one run, never asserted anywhere.
"""
import argparse
import json
import os
import platform
import tempfile
import time

from data import synth
from data.index import read_annotation, read_index, read_splits, write_poses
from data.loader import ClipDataset, make_loader
from data.prepare import prepare
from data.transforms import union_box


def machine():
    return dict(platform=platform.platform(), processor=platform.processor() or "unknown",
                cpus=os.cpu_count(), python=platform.python_version())


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


def markdown(results):
    lines = ["| section | setting | result |", "| --- | --- | ---: |"]
    for row in results.get("loader", []):
        lines.append(f"| loader (train clips, pose targets) | {row['workers']} workers, "
                     f"{row['clip']} | {row['clips_per_s']:.1f} clips/s |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "am_bench"))
    parser.add_argument("--out", default="bench_results.json")
    parser.add_argument("--sections", default="loader")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sections = args.sections.split(",")
    results = {"machine": machine()}
    if "loader" in sections:
        results["loader"] = bench_loader(synthetic_prepared(args.work))
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"machine: {results['machine']}")
    print(markdown(results))


if __name__ == "__main__":
    main()

"""python -m data.prepare --dataset D --raw DIR --out DIR: resize videos, write index and splits.

Every video is decoded, resized to the paper's height for its dataset (Table 2; the width keeps
the video's aspect ratio, which gives the table's sizes for the standard copies), and written
to OUT/videos/ID.avi; ground-truth sidecars (RAW/STEM.npz, the synthetic benchmark's) are scaled
along. Work runs in parallel with a progress bar and is resumable: a finished video leaves a
marker, and a rerun only does what is missing. Inputs that cannot be used (unparseable name,
missing, zero-byte, truncated or non-video file) are listed with the reason in OUT/skipped.csv;
a run with no usable sample fails. Every output is written whole or not at all (data/index.py);
a write that fails (full disk, unwritable folder) stops the run with one line naming the path.
Several processes or nodes: ``--shard K/N`` prepares every N-th video from the K-th and lists
them in OUT/prepared.shardKofN.json; the last shard to finish checks that the N lists hold every
video once and writes the index, splits and skipped list (data/shards.py).
"""
import argparse
import json
import logging
import multiprocessing
import os

import cv2
import numpy as np
from tqdm import tqdm

from errors import check_writable, exit_on_error

from .index import atomic_write_text, write_annotation, write_index, write_skipped, write_splits
from .protocols import DATASETS, all_splits, counts, get_dataset, list_names, parse_names
from .shards import merge_parts, parse as shard_arg, pick, write_part
from .video import VideoError, read_video, write_video

log = logging.getLogger("prepare")
_stop = None  # in a pool worker: the parent's Event, set when the run has failed


def _init_worker(stop):
    global _stop
    _stop = stop


def scale_annotation(src, dst, sx, sy):
    """Keypoints, boxes and the camera's intrinsics into the resized video's pixels (pixel
    centres at integers), so the keypoints stay the projections of joints_3d, which is kept."""
    with np.load(src) as z:
        data = dict(z)
    kps = data["keypoints"].astype(np.float32)
    kps[..., 0] = (kps[..., 0] + 0.5) * sx - 0.5
    kps[..., 1] = (kps[..., 1] + 0.5) * sy - 0.5
    boxes = data["boxes"].astype(np.float32)
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] + 0.5) * sx - 0.5
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] + 0.5) * sy - 0.5
    data.update(keypoints=kps, boxes=boxes)
    if "camera" in data:  # u' = (fx X / Z + cx + 0.5) sx - 0.5 = fx sx X / Z + (cx + 0.5) sx - 0.5
        fx, fy, cx, cy = data["camera"].astype(np.float64)
        data["camera"] = np.array([fx * sx, fy * sy, (cx + 0.5) * sx - 0.5,
                                   (cy + 0.5) * sy - 0.5], np.float32)
    write_annotation(dst, **data)


def target_size(width, height, resize):
    """(w, h): the table's height and the video's aspect ratio, the width rounded down to an
    even number (codecs want even sizes). Table 2: 1920x1080 -> 454x256, 640x480 -> 340x256;
    rounding to the nearest even width would give 456 and 342."""
    h = resize[1]
    w = width * h // height // 2 * 2  # integers: no float error at exact multiples
    return w, h


def prepare_one(job):
    """-> ('ok', sample) or ('skip', (name, reason)); ('stopped', None) once the run has
    failed. Never raises for a bad input; raises OSError for an output it cannot write."""
    if _stop is not None and _stop.is_set():
        return "stopped", None
    sample, out, resize, fps_default = job
    marker = os.path.join(out, ".done", sample["id"] + ".json")
    if os.path.exists(marker):
        with open(marker) as f:
            return "ok", json.load(f)
    try:
        frames, fps = read_video(sample["path"])
    except VideoError as err:
        return "skip", (sample["path"], str(err))
    T, H, W, _ = frames.shape
    w, h = target_size(W, H, resize)
    if (w, h) != (W, H):
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    fps = fps or fps_default
    rel = os.path.join("videos", sample["id"] + ".avi")
    dst = os.path.join(out, rel)
    write_video(dst, frames, fps)
    sidecar = os.path.splitext(sample["path"])[0] + ".npz"
    if os.path.exists(sidecar):
        scale_annotation(sidecar, os.path.join(out, "annotations", sample["id"] + ".npz"),
                         w / W, h / H)
    result = dict(sample, path=rel, source=sample["path"], frames=int(T), fps=float(fps),
                  width=w, height=h)
    atomic_write_text(marker, json.dumps(result))
    return "ok", result


def prepare(dataset_name, raw, out, workers=2, progress=True, shard=None):
    """Run the stage; returns (samples, skipped). Raises RuntimeError if nothing is usable.
    ``shard=(k, n)``: every n-th video from the k-th; the last shard to finish writes the index
    of all (-> all samples and skipped), the others return their own and write no index."""
    dataset = get_dataset(dataset_name)
    for sub in ("videos", "annotations", ".done"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    names = list_names(raw, dataset.VIDEO_EXTS)
    candidates, skipped = parse_names(dataset, names)
    jobs = [(s, out, dataset.RESIZE, dataset.FPS) for s in pick(candidates, shard)]
    if shard is not None:
        unparsed, skipped = skipped, []
    samples = []
    bar = tqdm(total=len(jobs), desc=f"prepare {dataset.NAME}", disable=not progress)
    if workers > 1:
        stop = multiprocessing.Event()
        pool = multiprocessing.Pool(workers, _init_worker, (stop,))
        results = pool.imap_unordered(prepare_one, jobs, chunksize=4)
    else:
        pool, results = None, map(prepare_one, jobs)
    try:
        for status, value in results:
            (samples if status == "ok" else skipped).append(value)
            bar.update()
    except BaseException:
        # A full disk fails every job: the queued ones return at once, and the running ones
        # finish their video (terminating would leave it half-written under a temporary name).
        if pool is not None:
            stop.set()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    if shard is not None:
        write_part(os.path.join(out, "prepared.json"), shard, samples, skipped)
        merged = merge_parts(os.path.join(out, "prepared.json"), shard[1],
                             [c["path"] for c in candidates], key=lambda s: s["source"])
        if merged is None:
            return samples, skipped
        samples, skipped = merged[0], unparsed + merged[1]
    write_skipped(os.path.join(out, "skipped.csv"), sorted(skipped))
    if not samples:
        raise RuntimeError(f"no usable {dataset.NAME} video among {len(names)} files in {raw}; "
                           f"reasons in {os.path.join(out, 'skipped.csv')}")
    samples.sort(key=lambda s: s["id"])  # workers finish in any order; the files do not
    write_index(out, samples)
    write_splits(out, dataset.NAME, all_splits(dataset, samples))
    return samples, skipped


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--raw", required=True, help="the dataset's videos (searched recursively)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="every N-th video from the K-th; the last shard writes the index")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with exit_on_error(log):
        check_writable(args.out)
        samples, skipped = prepare(args.dataset, args.raw, args.out, args.workers,
                                   shard=args.shard)
    dataset = get_dataset(args.dataset)
    log.info("%d samples prepared, %d skipped (see %s/skipped.csv)", len(samples), len(skipped),
             args.out)
    log.info("protocol counts: %s", json.dumps(counts(dataset, samples)))


if __name__ == "__main__":
    main()

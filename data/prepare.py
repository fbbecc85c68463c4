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

Ground truth for the multitask clips (data/multitask/clips.py; formats in data/index.py):
Penn Action (``--dataset penn_action --raw ROOT``, ROOT holding labels/ and frames/) has no
videos: each label file's frames become the video and its joints and boxes the annotation
(data/penn_action.py). NTU with ``--skeletons DIR``: each video's annotation comes from
DIR/ID.skeleton (data.ntu.ground_truth). A video without a usable skeleton file (NTU's
release itself lacks 302) is prepared and indexed exactly as without ``--skeletons`` (the
protocols' test sets keep every video) but gets no annotation: it is listed with the reason in
OUT/no_annotation.csv (rewritten on every run to the indexed videos that have none) and counted
in the log; the multitask clips leave it out of training and treat it as an unreadable test
video. A rerun with ``--skeletons`` over an earlier run only adds the missing annotations.
"""
import argparse
import json
import logging
import multiprocessing
import os
import shutil

import cv2
import numpy as np

from common.errors import check_writable, exit_on_error

from . import ntu
from common.progress import Progress
from common.files import atomic_write_text
from .index import read_skipped, write_annotation, write_index, write_skipped, write_splits
from . import registry
from .protocols import all_splits, counts, list_names, parse_names
from .shards import merge_parts, pick, write_part
from .shards import parse as shard_arg
from .video import VideoError, read_video, write_video

log = logging.getLogger("prepare")
NO_ANNOTATION = "no_annotation.csv"  # OUT's list of indexed videos without an annotation
WITHOUT_SKELETONS = "prepared without --skeletons"
_stop = None  # in a pool worker: the parent's Event, set when the run has failed


def _init_worker(stop):
    global _stop
    _stop = stop


def scale_ground_truth(data, sx, sy):
    """Annotation arrays -> the same in the resized video's pixels (pixel centres at integers):
    keypoints, boxes and the camera's intrinsics, so the keypoints stay the projections of
    joints_3d, which is kept (as are millimetre arrays and extras)."""
    data = dict(data)
    kps = np.array(data["keypoints"], np.float32)
    kps[..., 0] = (kps[..., 0] + 0.5) * sx - 0.5
    kps[..., 1] = (kps[..., 1] + 0.5) * sy - 0.5
    boxes = np.array(data["boxes"], np.float32)
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] + 0.5) * sx - 0.5
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] + 0.5) * sy - 0.5
    data.update(keypoints=kps, boxes=boxes)
    if "camera" in data:  # u' = (fx X / Z + cx + 0.5) sx - 0.5 = fx sx X / Z + (cx + 0.5) sx - 0.5
        fx, fy, cx, cy = np.asarray(data["camera"], np.float64)
        data["camera"] = np.array([fx * sx, fy * sy, (cx + 0.5) * sx - 0.5,
                                   (cy + 0.5) * sy - 0.5], np.float32)
    return data


def scale_annotation(src, dst, sx, sy):
    """RAW/STEM.npz (the synthetic benchmark's sidecar) -> OUT/annotations/ID.npz, scaled."""
    with np.load(src) as z:
        data = dict(z)
    write_annotation(dst, **scale_ground_truth(data, sx, sy))


def skeleton_ground_truth(skeletons, sample_id, width, height):
    """NTU: SKELETONS/ID.skeleton -> its ground truth (data.ntu.ground_truth) in the
    pixels of a width x height video. ValueError naming the file when it is missing or unusable:
    the video then has no annotation (NTU's release lacks the skeletons of 302 videos)."""
    path = os.path.join(skeletons, sample_id + ".skeleton")
    if not os.path.isfile(path):
        raise ValueError(f"no skeleton file {path}")
    cw, ch = ntu.COLOUR_SIZE  # the file's colour pixels, whatever the video's size
    return scale_ground_truth(ntu.ground_truth(path), width / cw, height / ch)


def skeleton_or_reason(skeletons, sample_id, width, height):
    """-> (ground truth, None), or (None, why there is none): never an error for the input."""
    try:
        return skeleton_ground_truth(skeletons, sample_id, width, height), None
    except (OSError, ValueError) as err:
        return None, str(err)


def write_no_annotation(out, samples, skeletons):
    """OUT/no_annotation.csv: every indexed video without OUT/annotations/ID.npz, with the reason
    (the skeleton file's problem; without ``skeletons``, the earlier list's reason), rewritten
    whole so it always states the current preparation. -> its rows."""
    path = os.path.join(out, NO_ANNOTATION)
    earlier = dict(read_skipped(path)) if os.path.exists(path) else {}
    rows = []
    for s in samples:
        if os.path.exists(os.path.join(out, "annotations", s["id"] + ".npz")):
            continue
        if skeletons:  # only the videos that failed just now: the problem again, cheaply
            reason = skeleton_or_reason(skeletons, s["id"], s["width"], s["height"])[1]
        else:
            reason = earlier.get(s["id"])
        rows.append((s["id"], reason or WITHOUT_SKELETONS))
    write_skipped(path, rows)
    return rows


def target_size(width, height, resize):
    """(w, h): the table's height and the video's aspect ratio, the width rounded down to an
    even number (codecs want even sizes); ``resize`` None keeps the size, made even; an int S
    makes the shorter side S (your own videos, portrait ones too). Table 2: 1920x1080 ->
    454x256, 640x480 -> 340x256; rounding to the nearest even width would give 456 and 342."""
    if resize is None:  # the dataset keeps its own size (Penn Action)
        return width // 2 * 2, height // 2 * 2
    if isinstance(resize, int):
        short = min(width, height)
        return width * resize // short // 2 * 2, height * resize // short // 2 * 2
    h = resize[1]
    w = width * h // height // 2 * 2  # integers: no float error at exact multiples
    return w, h


def prepare_one(job):
    """-> ('ok', sample) or ('skip', (name, reason)); ('stopped', None) once the run has
    failed. Never raises for a bad input; raises OSError for an output it cannot write."""
    if _stop is not None and _stop.is_set():
        return "stopped", None
    sample, out, resize, fps_default, dataset_name, skeletons = job
    annotation = os.path.join(out, "annotations", sample["id"] + ".npz")
    marker = os.path.join(out, ".done", sample["id"] + ".json")
    if os.path.exists(marker):
        with open(marker) as f:
            result = json.load(f)
        if skeletons and not os.path.exists(annotation):  # prepared before without --skeletons
            truth, _ = skeleton_or_reason(skeletons, sample["id"], result["width"],
                                          result["height"])
            if truth is not None:  # none: indexed all the same (no_annotation.csv)
                write_annotation(annotation, **truth)
        return "ok", result
    dataset = registry.dataset(dataset_name, "video").adapter()
    truth = None
    try:
        if hasattr(dataset, "read_sample"):  # frames and ground truth from the dataset's files
            frames, fps, truth = dataset.read_sample(sample)
        else:
            frames, fps = read_video(sample["path"])
    except (VideoError, ValueError) as err:
        return "skip", (sample["path"], str(err))
    T, H, W, _ = frames.shape
    w, h = target_size(W, H, resize)
    try:
        if truth is not None and (w, h) != (W, H):
            truth = scale_ground_truth(truth, w / W, h / H)
    except (OSError, ValueError) as err:
        return "skip", (sample["path"], str(err))
    if skeletons:  # no usable skeleton: the video is still prepared and indexed, unannotated
        truth, _ = skeleton_or_reason(skeletons, sample["id"], w, h)
    if (w, h) != (W, H):
        frames = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    fps = fps or fps_default
    rel = os.path.join("videos", sample["id"] + ".avi")
    dst = os.path.join(out, rel)
    write_video(dst, frames, fps)
    sidecar = os.path.splitext(sample["path"])[0] + ".npz"
    if truth is not None:
        write_annotation(annotation, **truth)
    elif os.path.exists(sidecar):
        scale_annotation(sidecar, annotation, w / W, h / H)
    result = dict(sample, path=rel, source=sample["path"], frames=int(T), fps=float(fps),
                  width=w, height=h)
    atomic_write_text(marker, json.dumps(result))
    return "ok", result


def prepare(dataset_name, raw, out, workers=2, progress=True, shard=None, skeletons=None,
            custom=None):
    """Run the stage; returns (samples, skipped). Raises RuntimeError if nothing is usable.
    ``skeletons`` (NTU): a folder of .skeleton files, each video's ground truth for the
    multitask clips; a video without a usable one is indexed all the same, without annotation,
    and listed with the reason in OUT/no_annotation.csv (``write_no_annotation``).
    ``shard=(k, n)``: every n-th video from the k-th; the last shard to finish writes the index
    of all (-> all samples and skipped), the others return their own and write no index.
    ``custom`` (dataset custom): dict(list=, classes=, splits=, short_side=), data/custom.py."""
    dataset = registry.dataset(dataset_name, "video").adapter()
    if skeletons is not None and dataset_name != "ntu":
        raise ValueError(f"--skeletons is NTU's; {dataset_name} has no .skeleton files")
    if skeletons is not None and not os.path.isdir(skeletons):
        raise FileNotFoundError(f"--skeletons: no such folder: {skeletons}")
    if not os.path.exists(raw):
        raise FileNotFoundError(f"--raw: no such file or directory: {raw} (the folder of the "
                                f"dataset's downloaded videos, or a list of their paths)")
    resize = dataset.RESIZE
    if dataset_name == "custom":  # your own videos and their annotation list
        custom = dict(custom or {})
        if not custom.get("list"):
            raise ValueError("--dataset custom needs --list LIST.csv (path,label[,split,...]); "
                             "see docs/custom_dataset.md")
        candidates, classes = dataset.read_list(custom["list"], raw, custom.get("classes"),
                                                custom.get("splits"))
        skipped, names = [], candidates
        resize = int(custom.get("short_side") or dataset.SHORT_SIDE)
    elif custom:
        raise ValueError("--list, --classes, --splits and --short-side are for --dataset custom")
    elif hasattr(dataset, "list_samples"):  # samples from annotation files (Penn Action)
        candidates, skipped = dataset.list_samples(raw)
        names = candidates + skipped
    else:
        names = list_names(raw, dataset.VIDEO_EXTS, what="--raw")
        candidates, skipped = parse_names(dataset, names)
    for sub in ("videos", "annotations", ".done"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    jobs = [(s, out, resize, dataset.FPS, dataset_name, skeletons)
            for s in pick(candidates, shard)]
    if shard is not None:
        unparsed, skipped = skipped, []
    samples = []
    bar = Progress(len(jobs), f"prepare {dataset.NAME}", log, unit="videos",
                   bar=None if progress else False)
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
    if dataset_name == "custom":
        dataset.write_dataset_file(out, classes, resize)
    if skeletons or os.path.exists(os.path.join(out, NO_ANNOTATION)):
        missing = write_no_annotation(out, samples, skeletons)
        log.info("annotations for %d of %d videos; %d listed in %s", len(samples) - len(missing),
                 len(samples), len(missing), os.path.join(out, NO_ANNOTATION))
    return samples, skipped


def remove_if_nothing_prepared(out):
    """A failed prepare removes the folder it created, unless it holds a prepared video (a
    resumed run reuses those)."""
    videos = os.path.join(out, "videos")
    if not (os.path.isdir(videos) and os.listdir(videos)):
        shutil.rmtree(out, ignore_errors=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, type=registry.canonical,
                        choices=registry.names("video"))
    parser.add_argument("--raw", required=True, help="the dataset's videos (searched recursively)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="every N-th video from the K-th; the last shard writes the index")
    parser.add_argument("--skeletons", help="NTU: the .skeleton files' folder; also write each "
                                            "video's per-frame boxes and joints (annotations/)")
    parser.add_argument("--list", help="custom: the annotation list, path,label[,split,subject,"
                                       "view] (data/custom.py)")
    parser.add_argument("--classes", help="custom: the class names, one a line, in label order")
    parser.add_argument("--splits", help="custom: path,split rows, where the list has no split")
    parser.add_argument("--short-side", type=int, help="custom: the prepared videos' shorter "
                                                       "side in pixels (default 256)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    created = not os.path.exists(args.out)
    try:
        with exit_on_error(log):
            check_writable(args.out)
            custom = {k: v for k, v in dict(list=args.list, classes=args.classes,
                                            splits=args.splits,
                                            short_side=args.short_side).items() if v}
            samples, skipped = prepare(args.dataset, args.raw, args.out, args.workers,
                                       shard=args.shard, skeletons=args.skeletons,
                                       custom=custom or None)
    except BaseException:
        if created:
            remove_if_nothing_prepared(args.out)
        raise
    dataset = registry.dataset(args.dataset, "video").adapter(args.out)
    log.info("%d samples prepared, %d skipped (see %s/skipped.csv)", len(samples), len(skipped),
             args.out)
    log.info("protocol counts: %s", json.dumps(counts(dataset, samples)))


if __name__ == "__main__":
    main()

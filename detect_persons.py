"""Person boxes for every video: confident person detections -> one union box a video.

    python detect_persons.py --dataset nucla --prepared work/nucla/prepared --detector dcn_rfcn
    python detect_persons.py --dataset synth --prepared work/synth/prepared --detector gt

Paper Sec. 3 ("Network input"): every frame goes through a person detector; boxes with class
confidence >= threshold (0.99) are kept and the minimal box enclosing all of them is the video's
crop box. A video with no confident box falls back to the full frame, with a warning and a count
in the summary. Output (format in data/index.py): one JSON file for the dataset, by default
beside the prepared directory (work/DATASET/boxes.json), with per-video statistics (frames seen,
frames with a person, fallback). Videos that cannot be decoded are listed in OUT.skipped.csv.
Resumable: finished videos are appended to OUT.partial as they complete, and a rerun skips them.

Detectors:
- ``dcn_rfcn``: the paper's Deformable R-FCN, ResNet-101 (``symbols/rfcn.py``), with the COCO
  weights the Deformable-ConvNets authors released (``--weights``, default
  work/models/rfcn_dcn_coco-0000.params) and the release's test settings (shorter side 600,
  longer <= 1000, class-agnostic boxes, NMS 0.3). ``dcn_rfcn_tiny`` is the same code at toy size.
- ``gluoncv:NAME``: a GluonCV COCO detector, e.g. ``gluoncv:faster_rcnn_resnet101_v1d_coco``
  (downloaded, or ``--weights`` a saved .params file).
- ``gt``: the boxes a dataset ships (the synthetic benchmark's annotations, score 1.0).
Frames (every ``--frame-stride``-th) go through the network ``--batch-size`` at a time.
Several GPUs: one process each, ``--gpu I --shard K/N``; each writes OUT's shard file
(boxes.shardKofN.json) and the last to finish merges them into OUT.
"""
import argparse
import json
import logging
import os
import sys

import mxnet as mx
import numpy as np
from tqdm import tqdm

from data.index import (atomic_write_text, read_annotation, read_boxes, read_index,
                        read_skipped, write_boxes, write_skipped)
from data.protocols import DATASETS
from data.transforms import full_frame_box, union_box
from data.video import VideoError, iter_frames

log = logging.getLogger("detect_persons")
GLUONCV = "gluoncv:"
RFCN_DETECTORS = ("dcn_rfcn", "dcn_rfcn_tiny")
DETECTORS = RFCN_DETECTORS + ("gt",)
DEFAULT_WEIGHTS = {"dcn_rfcn": os.path.join("work", "models", "rfcn_dcn_coco-0000.params"),
                   "dcn_rfcn_tiny": None}


def video_box(frame_boxes, frame_scores, threshold, width, height):
    """Union of the boxes scoring >= threshold over all frames; full frame if there is none.

    frame_boxes: per frame an (n, 4) array; frame_scores: per frame an (n,) array.
    -> dict(box, frames_seen, frames_with_person, fallback)
    """
    kept = [b[s >= threshold] for b, s in zip(frame_boxes, frame_scores)]
    with_person = sum(len(k) > 0 for k in kept)
    if with_person == 0:
        box, fallback = full_frame_box(width, height), True
    else:
        box, fallback = union_box(np.concatenate([k for k in kept if len(k)])), False
        # Detections may reach past the frame; the crop box stays inside it.
        box = np.maximum(box, [-0.5, -0.5, -0.5, -0.5])
        box = np.minimum(box, [width - 0.5, height - 0.5, width - 0.5, height - 0.5])
    return dict(box=[float(v) for v in box], frames_seen=len(frame_boxes),
                frames_with_person=int(with_person), fallback=fallback)


def gt_detections(prepared, sample, frame_stride):
    """The dataset's own per-frame boxes, as detections of score 1."""
    path = os.path.join(prepared, "annotations", sample["id"] + ".npz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--detector gt: {sample['id']} has no annotation ({path})")
    _, boxes = read_annotation(path)
    boxes = boxes[::frame_stride]
    return [b[None] for b in boxes], [np.ones(1, np.float32) for _ in boxes]


class DetectorError(Exception):
    """A detector that cannot be built; the message says why and what to do."""


def gluoncv_detector(name, weights, ctx):
    """A GluonCV COCO detector as frames (B, H, W, 3) -> per frame (n, 5) person detections."""
    from gluoncv import model_zoo
    from gluoncv.data.transforms import presets
    try:
        net = model_zoo.get_model(name, pretrained=weights is None, pretrained_base=False)
    except ValueError as err:  # not a model of the zoo
        raise DetectorError(f"gluoncv:{name}: {str(err).splitlines()[0]}") from err
    except OSError as err:  # the download (requests' errors are OSErrors)
        raise DetectorError(f"gluoncv:{name}: could not download the weights ({err}); save "
                            f"them where there is internet and pass --weights FILE") from err
    if weights is not None:
        if not os.path.isfile(weights):
            raise DetectorError(f"gluoncv:{name}: no weights file {weights}")
        net.load_parameters(weights, ctx=ctx)
    net.collect_params().reset_ctx(ctx)
    net.hybridize(static_alloc=True)
    person = net.classes.index("person")
    # Each family's own test-time preset and input size.
    preset, short = ((presets.yolo, 416) if name.startswith("yolo") else
                     (presets.ssd, int(name.split("_")[1])) if name.startswith("ssd") else
                     (presets.rcnn, 600))
    kwargs = dict(max_size=1000) if preset is presets.rcnn else {}

    def run_batch(frames):
        out = []
        for frame in frames:  # GluonCV's detectors resize per image
            x, resized = preset.transform_test(mx.nd.array(frame), short=short, **kwargs)
            ids, scores, boxes = (v[0].asnumpy() for v in net(x.as_in_context(ctx)))
            keep = ids[:, 0] == person
            scale = resized.shape[0] / frame.shape[0]
            out.append(np.hstack([boxes[keep] / scale, scores[keep]]).astype(np.float32))
        return out
    return run_batch


def rfcn_detector(name, weights, ctx):
    from symbols import rfcn
    if weights is None:
        log.warning("%s without --weights: random weights, for testing the plumbing only", name)
    try:
        net = rfcn.get_detector(name, weights, ctx)
    except FileNotFoundError as err:
        raise DetectorError(str(err)) from err
    except rfcn.CheckpointError as err:
        raise DetectorError(f"{name}: {err}") from err
    return lambda frames: rfcn.detect(net, frames, ctx)


def frame_detections(detector, path, frame_stride, batch_size):
    """Run ``detector`` over every ``frame_stride``-th frame of a video, ``batch_size`` frames
    at a time. -> per frame boxes (n, 4) and scores (n,). Raises VideoError."""
    boxes, scores, batch = [], [], []

    def flush():
        for dets in detector(np.stack(batch)):
            boxes.append(dets[:, :4])
            scores.append(dets[:, 4])
        batch.clear()
    for _, frame in iter_frames(path, step=frame_stride):
        batch.append(frame)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return boxes, scores


def make_source(detector, prepared, frame_stride=1, batch_size=4, weights=None, ctx=None):
    """sample -> (per frame boxes, per frame scores) for the chosen detector."""
    if detector == "gt":
        return lambda sample: gt_detections(prepared, sample, frame_stride)
    ctx = ctx or mx.cpu()
    if detector.startswith(GLUONCV):
        net = gluoncv_detector(detector[len(GLUONCV):], weights, ctx)
    elif detector in RFCN_DETECTORS:
        net = rfcn_detector(detector, weights or DEFAULT_WEIGHTS[detector], ctx)
    else:
        raise DetectorError(f"unknown detector {detector!r}; use one of "
                            f"{', '.join(DETECTORS)} or gluoncv:NAME")
    return lambda sample: frame_detections(net, os.path.join(prepared, sample["path"]),
                                           frame_stride, batch_size)


def _read_partial(partial, settings):
    """Records of a previous, interrupted run with the same ``settings``; a line a kill cut
    short is dropped (redone). The file is rewritten to its whole lines, settings first."""
    done = {}
    if os.path.exists(partial):
        with open(partial) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "settings" in record:
                    if record["settings"] != settings:
                        raise DetectorError(
                            f"{partial} was written with {record['settings']}, this run has "
                            f"{settings}: rerun with those settings to resume, or delete it")
                    continue
                done[record["id"]] = record
    lines = [dict(settings=settings)] + list(done.values())
    atomic_write_text(partial, "".join(json.dumps(r) + "\n" for r in lines))
    return done


def shard_path(out, k, n):
    root, ext = os.path.splitext(out)
    return f"{root}.shard{k}of{n}{ext}"


def merge_shards(prepared, out, n):
    """Once all N shard files exist: check that together they hold every indexed video exactly
    once (as boxes or as skipped) with one detector and threshold, and write OUT. -> the videos
    dict, or None while shards are missing."""
    paths = [shard_path(out, k, n) for k in range(1, n + 1)]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        log.info("waiting for %d other shard(s), e.g. %s; the last to finish writes %s",
                 len(missing), missing[0], out)
        return None
    videos, skipped, settings = {}, [], set()
    for p in paths:
        record = read_boxes(p)[1]
        settings.add((record["dataset"], record["detector"], record["threshold"]))
        videos.update(record["videos"])
        if os.path.exists(p + ".skipped.csv"):
            skipped += read_skipped(p + ".skipped.csv")
    if len(settings) > 1:
        raise DetectorError(f"shards of {out} disagree on (dataset, detector, threshold): "
                            f"{sorted(settings)}")
    ids = [s["id"] for s in read_index(prepared)]
    found = list(videos) + [i for i, _ in skipped]
    if len(found) != len(ids) or set(found) != set(ids):
        raise DetectorError(f"the {n} shard files of {out} do not hold each of the {len(ids)} "
                            f"indexed videos once ({len(found)} entries): files of another run?")
    (dataset, detector, threshold), = settings
    if skipped:
        write_skipped(out + ".skipped.csv", skipped)
    write_boxes(out, dataset, detector, threshold, videos)
    log.info("merged %d shards: %d videos, %d skipped; boxes in %s", n, len(videos),
             len(skipped), out)
    return videos


def run(prepared, out, dataset, detector="gt", threshold=0.99, frame_stride=1, progress=True,
        batch_size=4, weights=None, ctx=None, shard=None):
    """Detect over every indexed video, resuming from OUT.partial. -> the videos dict.

    ``shard=(k, n)``: only every n-th video from the k-th (1-based), into OUT's shard file;
    the last shard to finish merges all n into OUT (one process a GPU)."""
    samples = read_index(prepared)
    merged_out = out
    if shard is not None:
        k, n = shard
        samples, out = samples[k - 1::n], shard_path(out, k, n)
    partial = out + ".partial"
    done = _read_partial(partial, dict(detector=detector, threshold=threshold,
                                       frame_stride=frame_stride))
    todo = [s for s in samples if s["id"] not in done]
    if done:
        log.info("resuming: %d videos done, %d to go", len(done), len(todo))
    source = make_source(detector, prepared, frame_stride, batch_size, weights, ctx) \
        if todo else None
    with open(partial, "a") as f:
        for sample in tqdm(todo, desc=f"detect {dataset}", disable=not progress):
            try:
                boxes, scores = source(sample)
                record = dict(id=sample["id"], result=video_box(
                    boxes, scores, threshold, sample["width"], sample["height"]))
                if record["result"]["fallback"]:
                    log.warning("%s: no person at confidence >= %g in %d frames; using the "
                                "full frame", sample["id"], threshold,
                                record["result"]["frames_seen"])
            except VideoError as err:
                log.warning("%s: skipped: %s", sample["id"], err)
                record = dict(id=sample["id"], skipped=str(err))
            f.write(json.dumps(record) + "\n")
            f.flush()
            done[sample["id"]] = record
    videos = {s["id"]: done[s["id"]]["result"] for s in samples if "result" in done[s["id"]]}
    skipped = [(s["id"], done[s["id"]]["skipped"]) for s in samples if "skipped" in done[s["id"]]]
    if skipped:
        write_skipped(out + ".skipped.csv", skipped)
        log.warning("%d videos could not be decoded; listed in %s", len(skipped),
                    out + ".skipped.csv")
    if not videos:
        raise VideoError(f"no video of {prepared} could be decoded (see {out}.skipped.csv)")
    write_boxes(out, dataset, detector, threshold, videos)
    os.remove(partial)
    fallbacks = sum(v["fallback"] for v in videos.values())
    log.info("%d videos, %d fell back to the full frame, %d skipped; boxes in %s", len(videos),
             fallbacks, len(skipped), out)
    if shard is not None:
        merge_shards(prepared, merged_out, shard[1])
    return videos


def detector_name(value):
    if value in DETECTORS or (value.startswith(GLUONCV) and len(value) > len(GLUONCV)):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: use one of {', '.join(DETECTORS)} or "
                                     f"gluoncv:NAME")


def shard_arg(value):
    try:
        k, n = (int(v) for v in value.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{value!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return k, n


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--prepared", required=True)
    parser.add_argument("--detector", default="gt", type=detector_name,
                        help=f"{', '.join(DETECTORS)} or gluoncv:NAME (default gt)")
    parser.add_argument("--weights", help="detector weights; dcn_rfcn default: "
                        + DEFAULT_WEIGHTS["dcn_rfcn"])
    parser.add_argument("--threshold", type=float, default=0.99)
    parser.add_argument("--frame-stride", type=int, default=1, help="detect every N-th frame")
    parser.add_argument("--batch-size", type=int, default=4, help="frames per forward pass")
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="every N-th video from the K-th; run N processes (one a GPU), "
                        "the last to finish writes the merged file")
    parser.add_argument("--out", help="default: PREPARED/../boxes.json")
    args = parser.parse_args(argv)
    if args.frame_stride < 1 or args.batch_size < 1:
        parser.error("--frame-stride and --batch-size must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.prepared)),
                                   "boxes.json")
    ctx = mx.cpu() if args.gpu is None else mx.gpu(args.gpu)
    try:
        run(args.prepared, out, args.dataset, args.detector, args.threshold, args.frame_stride,
            batch_size=args.batch_size, weights=args.weights, ctx=ctx, shard=args.shard)
    except (FileNotFoundError, DetectorError, VideoError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()

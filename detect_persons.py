"""Person boxes: one union box of confident detections a video, or (image mode) every person
detection of a COCO image set, the pose model's test boxes.

    python detect_persons.py --dataset nucla --prepared work/nucla/prepared --detector dcn_rfcn
    python detect_persons.py --dataset synth --prepared work/synth/prepared --detector gt
    python detect_persons.py --images work/coco/val2017 \
        --ann work/coco/annotations/person_keypoints_val2017.json --detector dcn_rfcn

Videos, paper Sec. 3 ("Network input"): every frame goes through a person detector; boxes with
class confidence >= threshold (0.99) are kept and the minimal box enclosing all of them is the
video's crop box. A video with no confident box falls back to the full frame, with a warning and
a count in the summary. Output (format in data/index.py): one JSON file for the dataset, by
default beside the prepared directory (work/DATASET/boxes.json), with per-video statistics
(frames seen, frames with a person, fallback). Videos that cannot be decoded are listed in
OUT.skipped.csv. Resumable: finished videos are appended to OUT.partial as they complete, and a
rerun skips them. Frames (every ``--frame-stride``-th) go through the network ``--batch-size`` at
a time. Several GPUs: one process each, ``--gpu I --shard K/N``; each writes OUT's shard file
(boxes.shardKofN.json) and the last to finish merges them into OUT.

Images (``--images DIR --ann FILE``), paper Sec. 4.2: "the detected person bounding boxes on COCO
val2017 are used" for Table 3. Every image the annotation file lists is detected and every person
box of score >= threshold is written as COCO results (format in data/coco_detections.py), by
default beside the image folder (work/coco/person_detections_val2017.json). The threshold here is
not the videos' 0.99, which the paper sets "to avoid most false positive detections" in a union
box: keypoint AP rewards recall and ranks each pose by its box score, so top-down pose methods
keep low-scoring boxes (Simple Baselines, the paper's [53]: IMAGE_THRE 0.0 over its detection
file). The default 0.05 is the customary output floor of COCO detectors (Detectron's
TEST.SCORE_THRESH), which the R-FCN release's floor (0.001, 100 boxes an image) goes below.
Image mode's code: engine/stages/image_boxes.py.

Detectors (symbols/detector/person_detector.py): ``dcn_rfcn`` (the paper's Deformable R-FCN, weights
``--weights``, default work/models/rfcn_dcn_coco-0000.params), ``dcn_rfcn_tiny`` (toy size),
``gluoncv:NAME``, and ``gt``: the boxes a dataset ships (the synthetic benchmark's annotations;
in image mode the annotation file's person boxes), score 1.
"""
import argparse
import json
import logging
import os

from data import registry
from data.shards import parse as shard_arg
from common import cli
from symbols.detector import DEFAULT_WEIGHTS, GLUONCV, RFCN_DETECTORS


DETECTORS = RFCN_DETECTORS + ("gt",)
# (detector, threshold) by default; the thresholds' reasons are in the module docstring.
VIDEO_DEFAULTS = ("gt", 0.99)
IMAGE_DEFAULTS = ("dcn_rfcn", 0.05)


def detector_name(value):
    if value in DETECTORS or (value.startswith(GLUONCV) and len(value) > len(GLUONCV)):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: use one of {', '.join(DETECTORS)} or "
                                     f"gluoncv:NAME")


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("--dataset", type=registry.canonical, choices=registry.names("video"),
                        help="videos: the dataset")
    parser.add_argument("--prepared", help="videos: the prepared directory")
    parser.add_argument("--images", help="image mode: a folder of COCO images")
    parser.add_argument("--ann", help="image mode: the COCO annotation file listing them")
    parser.add_argument("--detector", type=detector_name,
                        help=f"{', '.join(DETECTORS)} or gluoncv:NAME (default: "
                        f"{VIDEO_DEFAULTS[0]} for videos, {IMAGE_DEFAULTS[0]} for images)")
    parser.add_argument("--weights", help="detector weights; dcn_rfcn default: "
                        + DEFAULT_WEIGHTS["dcn_rfcn"])
    parser.add_argument("--threshold", type=float, help="keep boxes of score >= this "
                        f"(default: {VIDEO_DEFAULTS[1]} for videos, {IMAGE_DEFAULTS[1]} for "
                        "images)")
    parser.add_argument("--frame-stride", type=int, default=1, help="detect every N-th frame")
    parser.add_argument("--batch-size", type=int, default=4,
                        help="frames (images) per forward pass")
    cli.add_gpus_arg(parser)
    cli.add_threads_arg(parser)
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="every N-th video from the K-th; run N processes (one a GPU), "
                        "the last to finish writes the merged file")
    cli.add_dtype_arg(parser, config=False)
    parser.add_argument("--out", help="default: PREPARED/../boxes.json; image mode: "
                        "IMAGES/../person_detections_NAME.json (NAME: the folder's)")
    args = parser.parse_args(argv)
    images = args.images is not None or args.ann is not None
    if images and not (args.images and args.ann):
        parser.error("image mode needs both --images and --ann")
    if images and (args.dataset or args.prepared or args.shard):
        parser.error("--dataset, --prepared and --shard are for videos, not --images")
    if not images and not (args.dataset and args.prepared):
        parser.error("give --dataset and --prepared (videos) or --images and --ann (images)")
    if args.frame_stride < 1 or args.batch_size < 1:
        parser.error("--frame-stride and --batch-size must be >= 1")
    detector, threshold = IMAGE_DEFAULTS if images else VIDEO_DEFAULTS
    args.detector = args.detector or detector
    args.threshold = threshold if args.threshold is None else args.threshold
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import numpy as np

from common.errors import exit_on_error
from common.progress import Progress
from common.files import atomic_write_text
from data.index import (
    read_annotation,
    read_boxes,
    read_index,
    read_skipped,
    write_boxes,
    write_skipped,
)
from data.shards import all_parts, check_once, pick
from data.shards import part_path as shard_path
from data.video import VideoError, iter_frames
from engine.experiment import contexts
from engine.stages.image_boxes import detect_images, images_out
from engine.stages.person_boxes import build_detector, video_box
from engine.inference.precision import check_dtype
from symbols.detector.person_detector import DetectorError

log = logging.getLogger("detect_persons")


def gt_detections(prepared, sample, frame_stride):
    """The dataset's own per-frame boxes, as detections of score 1."""
    path = os.path.join(prepared, "annotations", sample["id"] + ".npz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--detector gt: {sample['id']} has no annotation ({path})")
    _, boxes = read_annotation(path)
    boxes = boxes[::frame_stride]
    return [b[None] for b in boxes], [np.ones(1, np.float32) for _ in boxes]


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


def make_source(detector, prepared, frame_stride=1, batch_size=4, weights=None, ctx=None,
                dtype="float32"):
    """sample -> (per frame boxes, per frame scores) for the chosen detector."""
    if detector == "gt":
        return lambda sample: gt_detections(prepared, sample, frame_stride)
    net = build_detector(detector, weights, ctx, dtype)
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


def merge_shards(prepared, out, n):
    """Once all N shard files exist: check that together they hold every indexed video exactly
    once (as boxes or as skipped) with one detector and threshold, and write OUT. -> the videos
    dict, or None while shards are missing."""
    paths = all_parts(out, n)
    if paths is None:
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
    check_once(list(videos) + [i for i, _ in skipped], ids, f"the {n} shard files of {out}",
               DetectorError)
    (dataset, detector, threshold), = settings
    if skipped:
        write_skipped(out + ".skipped.csv", skipped)
    write_boxes(out, dataset, detector, threshold, videos)
    log.info("merged %d shards: %d videos, %d skipped; boxes in %s", n, len(videos),
             len(skipped), out)
    return videos


def run(prepared, out, dataset, detector="gt", threshold=0.99, frame_stride=1, progress=True,
        batch_size=4, weights=None, ctx=None, shard=None, dtype="float32"):
    """Detect over every indexed video, resuming from OUT.partial. -> the videos dict.

    ``shard=(k, n)``: only every n-th video from the k-th (1-based), into OUT's shard file;
    the last shard to finish merges all n into OUT (one process a GPU)."""
    samples = read_index(prepared)
    merged_out = out
    if shard is not None:
        k, n = shard
        samples, out = pick(samples, shard), shard_path(out, k, n)
    partial = out + ".partial"
    # the precision changes the boxes a little: a resume must not mix float32 and bfloat16 ones
    done = _read_partial(partial, dict(detector=detector, threshold=threshold,
                                       frame_stride=frame_stride, dtype=dtype))
    todo = [s for s in samples if s["id"] not in done]
    if done:
        log.info("resuming: %d videos done, %d to go", len(done), len(todo))
    source = make_source(detector, prepared, frame_stride, batch_size, weights, ctx, dtype) \
        if todo else None
    with open(partial, "a") as f:
        for sample in Progress(len(todo), f"person boxes ({dataset})", log, unit="videos",
                               bar=None if progress else False).over(todo):
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
            except FloatingPointError as err:
                raise FloatingPointError(f"{sample['id']}: {err}; no box written") from None
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


def main(argv=None):
    args = cli.start(parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    ctx = contexts(args.gpus)[0]  # one device a process; --shard spreads videos over GPUs
    with exit_on_error(log):
        check_dtype(args.dtype or "float32", ctx, "--dtype")
        if args.images:
            detect_images(args.ann, args.images, args.out or images_out(args.images),
                          args.detector, args.threshold, args.batch_size, args.weights, ctx,
                          dtype=args.dtype or "float32")
            return
        out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.prepared)),
                                       "boxes.json")
        run(args.prepared, out, args.dataset, args.detector, args.threshold, args.frame_stride,
            batch_size=args.batch_size, weights=args.weights, ctx=ctx, shard=args.shard,
            dtype=args.dtype or "float32")


if __name__ == "__main__":
    main()

"""Person boxes for every video: confident person detections -> one union box a video.

    python detect_persons.py --dataset synth --prepared work/synth/prepared --detector gt

Paper Sec. 3 ("Network input"): every frame goes through a person detector; boxes with class
confidence >= threshold (0.99) are kept and the minimal box enclosing all of them is the video's
crop box. A video with no confident box falls back to the full frame, with a warning and a count
in the summary. Output (format in data/index.py): one JSON file for the dataset, by default
beside the prepared directory (work/DATASET/boxes.json). Resumable: finished videos are appended
to OUT.partial as they complete, and a rerun skips them.

Detectors: ``gt`` reads the boxes a dataset ships (the synthetic benchmark's annotations, score
1.0). The Deformable R-FCN of the paper is not implemented yet.
"""
import argparse
import json
import logging
import os
import sys

import numpy as np
from tqdm import tqdm

from data.index import atomic_write_text, read_annotation, read_index, write_boxes
from data.protocols import DATASETS
from data.transforms import full_frame_box, union_box

log = logging.getLogger("detect_persons")
DETECTORS = ("gt",)


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


def run(prepared, out, dataset, detector="gt", threshold=0.99, frame_stride=1, progress=True):
    """Detect over every indexed video, resuming from OUT.partial. -> the videos dict."""
    samples = read_index(prepared)
    partial = out + ".partial"
    done = {}
    if os.path.exists(partial):
        with open(partial) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # the line a kill cut short: redo that video
                    continue
                done[record["id"]] = record["result"]
        # Keep only whole lines, so new records never continue a cut-off one.
        atomic_write_text(partial, "".join(json.dumps(dict(id=k, result=v)) + "\n"
                                           for k, v in done.items()))
    todo = [s for s in samples if s["id"] not in done]
    if done:
        log.info("resuming: %d videos done, %d to go", len(done), len(todo))
    with open(partial, "a") as f:
        for sample in tqdm(todo, desc=f"detect {dataset}", disable=not progress):
            boxes, scores = gt_detections(prepared, sample, frame_stride)
            result = video_box(boxes, scores, threshold, sample["width"], sample["height"])
            if result["fallback"]:
                log.warning("%s: no person at confidence >= %g in %d frames; using the full "
                            "frame", sample["id"], threshold, result["frames_seen"])
            f.write(json.dumps(dict(id=sample["id"], result=result)) + "\n")
            f.flush()
            done[sample["id"]] = result
    videos = {s["id"]: done[s["id"]] for s in samples}
    write_boxes(out, dataset, detector, threshold, videos)
    os.remove(partial)
    fallbacks = sum(v["fallback"] for v in videos.values())
    log.info("%d videos, %d fell back to the full frame; boxes in %s", len(videos), fallbacks,
             out)
    return videos


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--prepared", required=True)
    parser.add_argument("--detector", default="gt", choices=DETECTORS)
    parser.add_argument("--threshold", type=float, default=0.99)
    parser.add_argument("--frame-stride", type=int, default=1, help="detect every N-th frame")
    parser.add_argument("--out", help="default: PREPARED/../boxes.json")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.prepared)),
                                   "boxes.json")
    try:
        run(args.prepared, out, args.dataset, args.detector, args.threshold, args.frame_stride)
    except FileNotFoundError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()

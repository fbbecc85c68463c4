"""A video's person box from per-frame detections, and the detector built for inference: shared
by the person-box stage (detect_persons.py) and the demo on any video (demo_video.py)."""
import logging

import mxnet as mx
import numpy as np

from data.transforms import full_frame_box, union_box
from engine.inference.precision import for_inference
from symbols import get_model
from symbols.detector import DEFAULT_WEIGHTS, RFCN_DETECTORS

log = logging.getLogger("detect_persons")


def video_box(frame_boxes, frame_scores, threshold, width, height):
    """Union of the boxes scoring >= threshold over all frames; full frame if there is none.

    frame_boxes: per frame an (n, 4) array; frame_scores: per frame an (n,) array.
    -> dict(box, frames_seen, frames_with_person, fallback)
    """
    # A NaN score never passes the threshold: without this check a broken detector would give
    # every video the full-frame fallback.
    for b, s in zip(frame_boxes, frame_scores):
        if not (np.isfinite(b).all() and np.isfinite(s).all()):
            raise FloatingPointError("the detector output non-finite boxes or scores")
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


def build_detector(detector, weights, ctx, dtype="float32"):
    if detector in RFCN_DETECTORS and (weights or DEFAULT_WEIGHTS[detector]) is None:
        log.warning("%s without --weights: random weights, for testing the plumbing only",
                    detector)
    ctx = ctx or mx.cpu()
    return get_model(detector, ctx=ctx, weights=weights,
                     convert=lambda net: for_inference(net, dtype, ctx, "--dtype"))

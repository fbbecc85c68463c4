"""Pose accuracy of a predictions file: MPII PCKh and Human3.6M MPJPE (paper Sec. 5.3, Tables 1-2);
or of a soft-argmax pose model on the test frames of a benchmark with 3D ground truth.

    python eval_pose.py --dataset mpii --ann gt_valid.mat --pred preds.npy [--out FILE]
    python eval_pose.py --dataset h36m --ann h36m_test.npz --pred preds.npy [--frames all]
    python eval_pose.py --config configs/pose/synth_softargmax_tiny.yaml [key=value ...]
                        [--untrained]
    python eval_pose.py --config configs/pose/mpii_h36m_softargmax.yaml [eval.crops=5]

Predictions: a .npy array in the annotation file's order and units. MPII: (N, 16, 2), x y in the
pixel coordinates gt_valid.mat uses (MATLAB's, 1-based: add 1 to 0-based pixel centres, as
HRNet and mmpose do), one pose per entry. Human3.6M: (N, 17, 3) in millimetres, camera
coordinates (any translation: both poses are root-aligned), one pose per protocol test row (S9,
S11, every 64th frame: data.h36m) or one per row of the file.

MPII (the official evaluation, as HRNet's and mmpose's ports of it): a joint is correct when its
distance to the truth is at most alpha x the head size, 0.6 x the head box diagonal; only joints
the truth has (jnt_missing 0) count. PCKh@0.5 and @0.2 per joint; the mean pools the 14 joints
other than pelvis and thorax (correct / visible over them), as the standard evaluation. AUC@a:
the area under PCKh(alpha) for alpha in 0, 0.01, ..., a (trapezoids), divided by a, in %; the
paper's Table 2 reports AUC@0.2 and AUC@0.5.

Human3.6M: MPJPE, the mean Euclidean distance in mm over the 17 joints after subtracting each
pose's root (pelvis) from it, per action of Table 1 (from imgname) and on average over frames
and over actions.

Results: a markdown table on stdout and a JSON beside the predictions (PRED_pckh.json,
PRED_mpjpe.json) or at --out. Bad input (a missing file, a prediction that is not finite, a
wrong shape or count) is one line ``error: ...`` naming the first bad entry, exit status 1.

Model mode (--config, data.source synth): the checkpoint (eval.checkpoint, or the run's newest
whole one; loaded strictly, and refused if its config names another model, input size or depth
range) or, with --untrained, the seeded fresh model (the baseline), runs on the protocol's test
frames (data/multitask/pose_frames.py: every data.frame_step-th frame, one centred crop, averaged
with its mirror when eval.flip), takes the last block's pose, and puts it into the annotation's
units: frame pixels, and camera-frame mm (z from the ground truth's pelvis depth plus the predicted
root-relative depth, back-projected through the camera, as the cvpr18 Human3.6M evaluation).
Scores, per joint and pooled over joints:
- PCK@0.1 and @0.2: a joint is correct when its 2D error is at most alpha x the longer side of
  the frame's ground-truth person box (Penn Action's convention); joints the annotation lacks
  do not count;
- MPJPE: mean Euclidean distance in mm after subtracting each pose's root, the pelvis (the
  midpoint of the hips), from it.
Writes, in the run's out folder (TAG "_untrained" for the baseline, else empty):
    pose_pred{TAG}_2d.npy      (N, 17, 2) float64 frame pixels (pixel centres at integers)
    pose_pred{TAG}_3d.npy      (N, 17, 3) float64 camera-frame mm
    pose_pred{TAG}_frames.json [[sample id, frame], ...]: the N rows' frames
    pose_eval{TAG}.json, pose_eval{TAG}.md   the scores
A model whose output is not finite is one line ``error: ...`` naming the frame; nothing is
written.

Model mode on the real datasets (--config, data.source mpii, h36m, penn_action, ntu or mix): the
model runs on data.test_source's test set (MPII: valid.json, gt_valid.mat's order; Human3.6M: S9
and S11 every 64th frame, the file's order), each item cropped from its annotated box, and writes
pose_pred{TAG}_mpii.npy (N, 16, 2) in MATLAB's 1-based pixels or pose_pred{TAG}_h36m.npy
(N, 17, 3) camera mm (depth from the ground truth's pelvis, as above), which the file mode then
scores: PCKh (Table 2) or MPJPE per action (Tables 1, 6). eval.crops 5 averages five crops
(multi-crop), eval.flip their mirrors. Penn Action and NTU have no pose table: refused.
"""
import argparse
import io
import json
import os
import sys

import numpy as np

from engine.config import POSE_BASE, add_config_args, load_config
from data import h36m
from common.errors import exit_on_error, fail
from common.files import atomic_write_bytes, atomic_write_text
from data.joints import LAYOUTS, from_common
from data.keypoints import COCO_KEYPOINTS
from data.multitask.pose_images import layout_of, pose_images, root_key, test_source_of
from engine.experiment import contexts, setup_logging
from engine.systems import check_pose_config
from engine.pose_experiment import pose_frames
from engine.pose_eval import load_model, predict_crops
from engine.metrics.pose import evaluate_h36m, evaluate_mpii, rounded, score_frames
from engine.metrics.pose_metrics import MPII_NOT_IN_MEAN, PCKH_ALPHAS


def _cell(v):
    return "-" if v is None else f"{v:.1f}"


def mpii_table(result):
    metrics = [f"PCKh@{a:g}" for a in PCKH_ALPHAS] + [f"AUC@{a:g}" for a in PCKH_ALPHAS]
    lines = ["| joint | " + " | ".join(metrics) + " |", "| --- |" + " ---: |" * len(metrics)]
    for name, scores in result["joints"].items():
        label = f"{name} (not in mean)" if name in MPII_NOT_IN_MEAN else name
        lines.append(f"| {label} | " + " | ".join(_cell(scores[m]) for m in metrics) + " |")
    lines.append("| **mean** | " + " | ".join(_cell(result["mean"][m]) for m in metrics) + " |")
    return "\n".join(lines)


def h36m_table(result):
    lines = ["| action | frames | MPJPE (mm) |", "| --- | ---: | ---: |"]
    lines += [f"| {a} | {v['frames']} | {_cell(v['MPJPE'])} |"
              for a, v in result["actions"].items()]
    lines.append(f"| **average (frames)** | {result['samples']} | "
                 f"{_cell(result['average_over_frames'])} |")
    lines.append(f"| **average (actions)** | {len(result['actions'])} | "
                 f"{_cell(result['average_over_actions'])} |")
    return "\n".join(lines)


# ---- model mode: a soft-argmax model's predictions (engine/pose_eval.py), written and scored
def frames_table(result):
    metrics = list(result["mean"])
    lines = ["| joint | " + " | ".join(f"{m} (mm)" if m == "MPJPE" else m for m in metrics)
             + " |", "| --- |" + " ---: |" * len(metrics)]
    for name, scores in result["joints"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(scores[m]) for m in metrics) + " |")
    lines.append("| **mean** | " + " | ".join(_cell(result["mean"][m]) for m in metrics) + " |")
    return "\n".join(lines)


def write_predictions(out, tag, uv, xyz, frames):
    """The model mode's prediction files (module docstring); each written whole or not at all."""
    for suffix, array in (("2d", uv), ("3d", xyz)):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array, np.float64))
        atomic_write_bytes(os.path.join(out, f"pose_pred{tag}_{suffix}.npy"), buffer.getvalue())
    atomic_write_text(os.path.join(out, f"pose_pred{tag}_frames.json"),
                      json.dumps([list(f) for f in frames]))


def evaluate_images(cfg, ctx, log, untrained=False):
    """A real-data config's model on data.test_source's test set: MPII valid (PCKh against
    annotations/gt_valid.mat) or Human3.6M protocol p1 (MPJPE per action against
    h36m_test.npz). Writes pose_pred{TAG}_{mpii,h36m}.npy in the annotation's order and units
    (MPII (N, 16, 2) 1-based pixels; Human3.6M (N, 17, 3) camera mm), then scores that file as
    the file mode does."""
    source, d, e = test_source_of(cfg), cfg["data"], cfg["eval"]
    if source not in ("mpii", "h36m"):
        raise ValueError(f"data.test_source is {source}: eval_pose.py scores MPII (PCKh) and "
                         f"Human3.6M (MPJPE) test sets")
    layout = layout_of(cfg)
    from_common(np.zeros((len(LAYOUTS[layout]), 3)), source, layout)  # every joint scorable
    root = d[root_key(source)]
    ann = os.path.join(root, "annotations", "gt_valid.mat") if source == "mpii" else \
        os.path.join(root, "annotation_body3d", "fps50", "h36m_test.npz")
    dataset = pose_images(cfg, "test")
    net, ckpt = load_model(cfg, ctx, log, untrained)
    uv, xyz = predict_crops(net, dataset, ctx, e["batch_size"], e["flip"], ckpt, e["crops"],
                            e["crop_shift"])
    tag = "_untrained" if untrained else ""
    pred = from_common(uv, source, layout) + 1.0 if source == "mpii" else \
        from_common(xyz, source, layout)  # MPII: MATLAB's 1-based pixels
    path = os.path.join(cfg["out"], f"pose_pred{tag}_{source}.npy")
    buffer = io.BytesIO()
    np.save(buffer, pred)
    atomic_write_bytes(path, buffer.getvalue())
    result = evaluate_mpii(ann, path) if source == "mpii" else evaluate_h36m(ann, path)
    result.update(checkpoint=ckpt, layout=layout, crops=e["crops"], flip=e["flip"],
                  crop_shift=e["crop_shift"] if e["crops"] > 1 else None)
    table = mpii_table(result) if source == "mpii" else h36m_table(result)
    atomic_write_text(os.path.join(cfg["out"], f"pose_eval{tag}.json"),
                      json.dumps(result, indent=1, allow_nan=False))
    atomic_write_text(os.path.join(cfg["out"], f"pose_eval{tag}.md"), table + "\n")
    headline = result["mean"] if source == "mpii" else \
        {"MPJPE": result["average_over_frames"]}
    log.info("%s on %d %s test items: %s", ckpt, len(dataset), source,
             ", ".join(f"{m} {_cell(v)}" for m, v in headline.items()))
    result["table"] = table
    return result


def run(cfg, ctx, log, untrained=False):
    """Run the config's soft-argmax model on its test frames, write the predictions and the
    scores; ``untrained``: the freshly initialised model (seeded), the baseline."""
    check_pose_config(cfg)
    if cfg["data"]["source"] == "coco":
        raise ValueError("eval_pose.py --config scores the soft-argmax models (data.source "
                         "synth, mpii, h36m, penn_action, ntu or mix); COCO pose models: "
                         "eval_coco.py")
    if cfg["data"]["source"] != "synth":
        return evaluate_images(cfg, ctx, log, untrained)
    dataset = pose_frames(cfg, "test")
    net, ckpt = load_model(cfg, ctx, log, untrained)
    e = cfg["eval"]
    uv, xyz = predict_crops(net, dataset, ctx, e["batch_size"], e["flip"], ckpt, e["crops"],
                            e["crop_shift"])
    tag = "_untrained" if untrained else ""
    write_predictions(cfg["out"], tag, uv, xyz, dataset.frames)
    scores = score_frames(uv, xyz, dataset.ground_truth())
    d = cfg["data"]
    result = dict(
        dataset=d["dataset"], prepared=d["prepared"], protocol=d["protocol"], split="test",
        frames=len(dataset), frame_step=d["frame_step"], checkpoint=ckpt, flip=cfg["eval"]["flip"],
        pck="correct when the 2D error <= alpha x the longer side of the frame's ground-truth "
            "person box (Penn Action's convention), in %",
        mpjpe="mm, after subtracting each pose's pelvis (the midpoint of the hips); absolute "
              "depth from the ground truth's pelvis",
        joints={n: {m: rounded(v[0][j]) for m, v in scores.items()}
                for j, n in enumerate(COCO_KEYPOINTS)},
        mean={m: rounded(v[1]) for m, v in scores.items()})
    table = frames_table(result)
    atomic_write_text(os.path.join(cfg["out"], f"pose_eval{tag}.json"),
                      json.dumps(result, indent=1, allow_nan=False))
    atomic_write_text(os.path.join(cfg["out"], f"pose_eval{tag}.md"), table + "\n")
    log.info("%s on %d test frames of %s: %s", ckpt, len(dataset), d["protocol"],
             ", ".join(f"{m} {_cell(v)}" for m, v in result["mean"].items()))
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mpii", "h36m"))
    parser.add_argument("--ann", help="mpii: gt_valid.mat; h36m: mmpose's h36m_test.npz (fps50)")
    parser.add_argument("--pred", help="predictions .npy in the --ann order")
    parser.add_argument("--frames", choices=("protocol", "all"), default="protocol",
                        help="h36m: score the protocol's test frames (default) or every row")
    parser.add_argument("--out", help="the results JSON (default: beside --pred)")
    add_config_args(parser, required=False, cpus=False)  # --config: run a soft-argmax model
    parser.add_argument("--untrained", action="store_true",
                        help="with --config: score the freshly initialised model (the baseline)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.config:
        with exit_on_error():
            cfg = load_config(args.config, args.overrides, base=POSE_BASE)
            log = setup_logging(cfg["out"], "eval_pose")
        with exit_on_error(log):
            result = run(cfg, contexts(args.gpus)[0], log, args.untrained)
        print(result.pop("table") if "table" in result else frames_table(result))
        return result
    if not (args.dataset and args.ann and args.pred):
        fail("give --dataset, --ann and --pred (score a file) or --config (run a model)")
    metric = "pckh" if args.dataset == "mpii" else "mpjpe"
    out = args.out or f"{os.path.splitext(args.pred)[0]}_{metric}.json"
    with exit_on_error():
        if args.dataset == "mpii":
            result = evaluate_mpii(args.ann, args.pred)
            table = mpii_table(result)
        else:
            result = evaluate_h36m(args.ann, args.pred, args.frames)
            table = h36m_table(result)
            if args.frames == "protocol" and result["frame_step"] != 1:
                print(f"note: {args.ann} holds every {result['frame_step']}th frame; the "
                      f"protocol's test set (every {h36m.TEST_EVERY}th frame) needs the fps50 "
                      f"file", file=sys.stderr)
        atomic_write_text(out, json.dumps(result, indent=1, allow_nan=False))
    print(table)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()

"""Pose accuracy of a predictions file: MPII PCKh and Human3.6M MPJPE (paper Sec. 5.3, Tables 1-2).

    python eval_pose.py --dataset mpii --ann gt_valid.mat --pred preds.npy [--out FILE]
    python eval_pose.py --dataset h36m --ann h36m_test.npz --pred preds.npy [--frames all]

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
"""
import argparse
import json
import os
import sys

import numpy as np

from data import h36m, mpii
from data.index import atomic_write_text
from errors import exit_on_error

PCKH_ALPHAS = (0.2, 0.5)
AUC_STEP = 0.01
MPII_NOT_IN_MEAN = ("pelvis", "thorax")


def load_predictions(path, joints, dims, counts, names):
    """The (N, joints, dims) array of ``path``; N must be one of ``counts``. A bad file is a
    ValueError naming it and the first bad entry."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        pred = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path} is not a .npy array of numbers ({err})") from None
    if not isinstance(pred, np.ndarray) or not (np.issubdtype(pred.dtype, np.floating)
                                                or np.issubdtype(pred.dtype, np.integer)):
        raise ValueError(f"{path} is not a .npy array of numbers")
    if pred.ndim != 3 or pred.shape[1:] != (joints, dims):
        raise ValueError(f"{path}: predictions have shape {pred.shape}; expected (N, {joints}, "
                         f"{dims})")
    if len(pred) not in counts:
        raise ValueError(f"{path}: {len(pred)} predictions; the annotations need "
                         f"{' or '.join(str(c) for c in counts)}")
    bad = np.argwhere(~np.isfinite(pred))
    if len(bad):
        i, j, c = bad[0]
        value = pred[i, j, c]
        kind = "NaN" if np.isnan(value) else "infinite"
        raise ValueError(f"{path}: prediction {i}, joint {j} ({names[j]}) is {kind}")
    return pred.astype(float)


def pckh_hits(pred, truth, visible, head_size):
    """Scaled errors (N, J): distance / head size; np.inf where the truth has no joint."""
    dist = np.linalg.norm(pred - truth, axis=-1) / head_size[:, None]
    return np.where(visible, dist, np.inf)


def pck_curve(scaled, alphas):
    """(A, J) correct joints and (J,) visible joints for each alpha (correct: scaled <= alpha)."""
    visible = np.isfinite(scaled)
    correct = np.stack([((scaled <= a) & visible).sum(0) for a in alphas])
    return correct, visible.sum(0)


def _ratio(a, b):
    return np.where(b > 0, 100.0 * a / np.maximum(b, 1), np.nan)


def pckh_scores(scaled, names, not_in_mean=MPII_NOT_IN_MEAN, alphas=PCKH_ALPHAS,
                step=AUC_STEP):
    """{metric: (per-joint (J,), mean)} for PCKh@a and AUC@a of each a, in %."""
    in_mean = np.array([n not in not_in_mean for n in names])
    out = {}
    for a in alphas:
        correct, visible = pck_curve(scaled, [a])
        out[f"PCKh@{a:g}"] = (_ratio(correct[0], visible),
                              float(_ratio(correct[0][in_mean].sum(), visible[in_mean].sum())))
    for a in alphas:
        grid = np.linspace(0.0, a, int(round(a / step)) + 1)
        correct, visible = pck_curve(scaled, grid)
        per_joint = np.trapz(_ratio(correct, visible), grid, axis=0) / a
        pooled = _ratio(correct[:, in_mean].sum(1), visible[in_mean].sum())
        out[f"AUC@{a:g}"] = (per_joint, float(np.trapz(pooled, grid) / a))
    return out


def mpjpe(pred, truth, root=0):
    """(N,) mean joint distance after aligning each pose's root joint with the origin."""
    pred = pred - pred[:, root:root + 1]
    truth = truth - truth[:, root:root + 1]
    return np.linalg.norm(pred - truth, axis=-1).mean(-1)


def _number(v):
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def evaluate_mpii(ann_path, pred_path):
    gt = mpii.read_gt_valid(ann_path)
    names = mpii.JOINTS
    pred = load_predictions(pred_path, len(names), 2, [len(gt["joints"])], names)
    heads = mpii.head_sizes(gt["headboxes"])
    if not np.all(heads > 0):
        raise ValueError(f"{ann_path}: entry {int(np.argmin(heads > 0))} has an empty head box")
    scores = pckh_scores(pckh_hits(pred, gt["joints"], gt["visible"], heads), names)
    return dict(dataset="mpii", annotations=ann_path, predictions=pred_path, samples=len(pred),
                head_size="0.6 x head box diagonal", not_in_mean=list(MPII_NOT_IN_MEAN),
                auc=f"mean PCKh over alpha in [0, a], step {AUC_STEP} (trapezoids), in %",
                joints={n: {m: _number(v[0][j]) for m, v in scores.items()}
                        for j, n in enumerate(names)},
                mean={m: _number(v[1]) for m, v in scores.items()})


def evaluate_h36m(ann_path, pred_path, frames="protocol"):
    ann = h36m.read_annotations(ann_path)
    everything = np.arange(len(ann["frame"]))
    rows = h36m.protocol_rows(ann, "test") if frames == "protocol" else everything
    if not len(rows):
        raise ValueError(f"{ann_path} has no Human3.6M test frame (S9, S11, every "
                         f"{h36m.TEST_EVERY}th frame); use --frames all to score every row")
    counts = [len(rows)] if len(rows) == len(everything) else [len(rows), len(everything)]
    pred = load_predictions(pred_path, len(h36m.JOINTS), 3, counts, h36m.JOINTS)
    if len(pred) != len(rows):
        pred = pred[rows]
    errors = mpjpe(pred, ann["joints_3d"][rows])
    actions = ann["action"][rows]
    per_action = {a: dict(MPJPE=_number(errors[actions == a].mean()),
                          frames=int((actions == a).sum()))
                  for a in h36m.TABLE1_ACTIONS if (actions == a).any()}
    return dict(dataset="h36m", annotations=ann_path, predictions=pred_path, samples=len(rows),
                frames=frames, frame_step=h36m.frame_step(ann), units="mm", root="pelvis",
                subjects=sorted(int(s) for s in np.unique(ann["subject"][rows])),
                actions=per_action, average_over_frames=_number(errors.mean()),
                average_over_actions=_number(np.mean([v["MPJPE"] for v in per_action.values()])))


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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=("mpii", "h36m"))
    parser.add_argument("--ann", required=True,
                        help="mpii: gt_valid.mat; h36m: mmpose's h36m_test.npz (fps50)")
    parser.add_argument("--pred", required=True, help="predictions .npy in the --ann order")
    parser.add_argument("--frames", choices=("protocol", "all"), default="protocol",
                        help="h36m: score the protocol's test frames (default) or every row")
    parser.add_argument("--out", help="the results JSON (default: beside --pred)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
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

"""Pose scores of predictions against their ground truth, the soft-argmax model's (Luvizon et al.
2018) and any predictions file's: MPII PCKh and AUC and Human3.6M MPJPE per action of a
predictions file (``evaluate_mpii``, ``evaluate_h36m``: paper Tables 1-2, eval_pose.py's file
mode); PCK and MPJPE of predictions on frames with 3D ground truth (``score_frames``); and the
validation scores of predictions on frames or real images (``frames_mpjpe_of``,
``images_error_of``). The arithmetic is engine/metrics/pose_metrics.py's; running a model to get
the predictions is engine/pose_eval.py's.
"""
import os

import numpy as np

from data import h36m, mpii
from data.keypoints import COCO_KEYPOINTS
from data.multitask import pose_frames as PF
from engine.metrics.pose_metrics import (
    AUC_STEP,
    MPII_NOT_IN_MEAN,
    PCK_ALPHAS,
    joint_errors,
    mpjpe,
    pck_curve,
    pckh_hits,
    pckh_scores,
    percent,
)


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


def rounded(v):
    """A score as the results files hold it: 4 decimals, None where there is none (NaN)."""
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
                joints={n: {m: rounded(v[0][j]) for m, v in scores.items()}
                        for j, n in enumerate(names)},
                mean={m: rounded(v[1]) for m, v in scores.items()})


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
    per_action = {a: dict(MPJPE=rounded(errors[actions == a].mean()),
                          frames=int((actions == a).sum()))
                  for a in h36m.TABLE1_ACTIONS if (actions == a).any()}
    return dict(dataset="h36m", annotations=ann_path, predictions=pred_path, samples=len(rows),
                frames=frames, frame_step=h36m.frame_step(ann), units="mm", root="pelvis",
                subjects=sorted(int(s) for s in np.unique(ann["subject"][rows])),
                actions=per_action, average_over_frames=rounded(errors.mean()),
                average_over_actions=rounded(np.mean([v["MPJPE"] for v in per_action.values()])))


def score_frames(uv, xyz, truth, names=COCO_KEYPOINTS, alphas=PCK_ALPHAS):
    """{metric: (per joint (J,), pooled)}: PCK@alpha in % of the box's longer side, and MPJPE
    in mm after pelvis alignment, of predictions against ``PoseFrames.ground_truth()``."""
    boxes = truth["boxes"]
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])  # (N,)
    visible = truth["keypoints"][..., 2] > 0
    scaled = np.linalg.norm(uv - truth["keypoints"][..., :2], axis=-1) / size[:, None]
    scaled = np.where(visible, scaled, np.inf)
    out = {}
    for a in alphas:
        correct, count = pck_curve(scaled, [a])
        out[f"PCK@{a:g}"] = (percent(correct[0], count),
                             float(percent(correct[0].sum(), count.sum())))
    errors = joint_errors(xyz, truth["joints_3d"], PF.HIPS)  # (N, J)
    out["MPJPE"] = (errors.mean(0), float(errors.mean()))
    return out


def frames_mpjpe_of(xyz, truth):
    """The mean root-aligned MPJPE (mm, root the pelvis) of camera-frame predictions (N, J, 3)
    against ``PoseFrames.ground_truth()``: the synthetic frames' validation score."""
    return float(joint_errors(xyz, truth["joints_3d"], PF.HIPS).mean())


def images_error_of(uv, xyz, records, has_3d):
    """The validation score of predictions on a real dataset's items (the ``records`` of
    ``data.multitask.pose_images.PoseImages``; ``has_3d``: every valid joint has its depth): the
    root-aligned MPJPE (mm, root the pelvis) where every joint has depth, else the mean 2D
    error in % of the box's longer side; only annotated joints count."""
    r = records
    if has_3d:
        truth = r["xyz"] if np.isfinite(r["xyz"][r["valid"]]).all() else \
            PF.back_project(r["joints"], r["depth"], r["camera"])
        errors = joint_errors(xyz, truth, 0)
    else:
        side = np.maximum(r["box"][:, 2] - r["box"][:, 0], r["box"][:, 3] - r["box"][:, 1])
        errors = 100.0 * np.linalg.norm(uv - r["joints"], axis=-1) / side[:, None]
    return float(errors[r["valid"]].mean())

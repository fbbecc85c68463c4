"""Pose metrics as pure NumPy functions: PCK / PCKh with AUC (MPII's head-size rule, Penn
Action's box rule) and MPJPE after root alignment (Human3.6M). engine/metrics/pose.py applies
them to predictions files and frames, ``eval_pose.py`` prints the tables; these compute.
"""
import numpy as np

PCKH_ALPHAS = (0.2, 0.5)
AUC_STEP = 0.01
MPII_NOT_IN_MEAN = ("pelvis", "thorax")
PCK_ALPHAS = (0.1, 0.2)  # model mode: of the box's longer side (Penn Action's convention)



def pckh_hits(pred, truth, visible, head_size):
    """Scaled errors (N, J): distance / head size; np.inf where the truth has no joint."""
    dist = np.linalg.norm(pred - truth, axis=-1) / head_size[:, None]
    return np.where(visible, dist, np.inf)


def pck_curve(scaled, alphas):
    """(A, J) correct joints and (J,) visible joints for each alpha (correct: scaled <= alpha)."""
    visible = np.isfinite(scaled)
    correct = np.stack([((scaled <= a) & visible).sum(0) for a in alphas])
    return correct, visible.sum(0)


def percent(a, b):
    """100 a / b where b > 0, else NaN (no joint to score)."""
    return np.where(b > 0, 100.0 * a / np.maximum(b, 1), np.nan)


def pckh_scores(scaled, names, not_in_mean=MPII_NOT_IN_MEAN, alphas=PCKH_ALPHAS,
                step=AUC_STEP):
    """{metric: (per-joint (J,), mean)} for PCKh@a and AUC@a of each a, in %."""
    in_mean = np.array([n not in not_in_mean for n in names])
    out = {}
    for a in alphas:
        correct, visible = pck_curve(scaled, [a])
        out[f"PCKh@{a:g}"] = (percent(correct[0], visible),
                              float(percent(correct[0][in_mean].sum(), visible[in_mean].sum())))
    for a in alphas:
        grid = np.linspace(0.0, a, int(round(a / step)) + 1)
        correct, visible = pck_curve(scaled, grid)
        per_joint = np.trapz(percent(correct, visible), grid, axis=0) / a
        pooled = percent(correct[:, in_mean].sum(1), visible[in_mean].sum())
        out[f"AUC@{a:g}"] = (per_joint, float(np.trapz(pooled, grid) / a))
    return out


def joint_errors(pred, truth, root=0):
    """(N, J) joint distances after aligning each pose's root with the origin; ``root`` is a
    joint index or a tuple of them whose mean is the root (the synthetic set's pelvis)."""
    root = list(np.atleast_1d(root))
    pred = pred - pred[:, root].mean(1, keepdims=True)
    truth = truth - truth[:, root].mean(1, keepdims=True)
    return np.linalg.norm(pred - truth, axis=-1)


def mpjpe(pred, truth, root=0):
    """(N,) mean joint distance after aligning each pose's root with the origin."""
    return joint_errors(pred, truth, root).mean(-1)

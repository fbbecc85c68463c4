"""The pose loss, paper Eqs. (3)-(5): Lp = 0.5 Lh + 0.5 Lo.

Lh = 1/K sum_k sum_i R(sigmoid(h_k(x_i)), target_k(x_i))      (all positions)
Lo = 1/K sum_k sum_{i: ||l_k - x_i|| <= M} R(F_k(x_i), target offset)   (inside the disk)
with R the smooth L1 loss. Per frame; a clip's loss is the mean over its frames (a ruling: the
paper gives Lp per image), or their sum with ``frames="sum"``.

``heatmap_loss="logistic"`` replaces R in Lh by the sigmoid cross-entropy of G-RMI (the paper's
[36], whose heatmaps the paper describes as "a binary classification problem"); the default is
Eq. (3)'s smooth L1 on the sigmoid probability.
"""
from mxnet.gluon.block import HybridBlock


class PoseLoss(HybridBlock):
    """Inputs in the head's layout; returns per-clip (Lp, Lh, Lo), each of shape (N,).

    heat (N, T, K, H, W) logits, offsets (N, T, K, 2, H, W), heat_target (N, T, K, H, W) in
    {0, 1}, offset_target (N, T, K, 2, H, W), weight (N, T, K) in {0, 1} (labelled keypoints).
    """

    def __init__(self, heatmap_weight=0.5, offset_weight=0.5, heatmap_loss="smooth_l1",
                 frames="mean", **kwargs):
        super().__init__(**kwargs)
        if heatmap_loss not in ("smooth_l1", "logistic"):
            raise ValueError(f"heatmap_loss is smooth_l1 or logistic, got {heatmap_loss!r}")
        if frames not in ("mean", "sum"):
            raise ValueError(f"frames is mean or sum, got {frames!r}")
        self.frames = frames
        self.heatmap_weight = heatmap_weight
        self.offset_weight = offset_weight
        self.heatmap_loss = heatmap_loss

    def hybrid_forward(self, F, heat, offsets, heat_target, offset_target, weight):
        if self.heatmap_loss == "smooth_l1":
            lh = F.smooth_l1(F.sigmoid(heat) - heat_target, scalar=1.0)
        else:  # log(1 + exp(z)) - t z, computed stably
            lh = F.relu(heat) - heat * heat_target + F.log(1 + F.exp(-F.abs(heat)))
        lh = F.sum(lh, axis=(3, 4)) * weight  # (N, T, K): summed over positions
        inside = F.expand_dims(heat_target, axis=3)  # (N, T, K, 1, H, W)
        lo = F.smooth_l1(offsets - offset_target, scalar=1.0) * inside
        lo = F.sum(lo, axis=(3, 4, 5)) * weight  # (N, T, K)
        over_frames = F.mean if self.frames == "mean" else F.sum
        lh = over_frames(F.mean(lh, axis=2), axis=1)  # 1/K sum_k, then over frames -> (N,)
        lo = over_frames(F.mean(lo, axis=2), axis=1)
        return self.heatmap_weight * lh + self.offset_weight * lo, lh, lo

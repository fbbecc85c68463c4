"""The pose loss, paper Eqs. (3)-(5): Lp = 0.5 Lh + 0.5 Lo.

Lh = 1/K sum_k sum_i R(sigmoid(h_k(x_i)), target_k(x_i))      (all positions)
Lo = 1/K sum_k sum_{i: ||l_k - x_i|| <= M} R(F_k(x_i), target offset)   (inside the disk)
with R the smooth L1 loss. Per frame; a clip's loss is the mean over its frames.
"""
from mxnet.gluon.block import HybridBlock


class PoseLoss(HybridBlock):
    """Inputs in the head's layout; returns per-clip (Lp, Lh, Lo), each of shape (N,).

    heat (N, T, K, H, W) logits, offsets (N, T, K, 2, H, W), heat_target (N, T, K, H, W) in
    {0, 1}, offset_target (N, T, K, 2, H, W), weight (N, T, K) in {0, 1} (labelled keypoints).
    """

    def __init__(self, heatmap_weight=0.5, offset_weight=0.5, **kwargs):
        super().__init__(**kwargs)
        self.heatmap_weight = heatmap_weight
        self.offset_weight = offset_weight

    def hybrid_forward(self, F, heat, offsets, heat_target, offset_target, weight):
        lh = F.smooth_l1(F.sigmoid(heat) - heat_target, scalar=1.0)
        lh = F.sum(lh, axis=(3, 4)) * weight  # (N, T, K): summed over positions
        inside = F.expand_dims(heat_target, axis=3)  # (N, T, K, 1, H, W)
        lo = F.smooth_l1(offsets - offset_target, scalar=1.0) * inside
        lo = F.sum(lo, axis=(3, 4, 5)) * weight  # (N, T, K)
        lh = F.mean(F.mean(lh, axis=2), axis=1)  # 1/K sum_k, then mean over frames -> (N,)
        lo = F.mean(F.mean(lo, axis=2), axis=1)
        return self.heatmap_weight * lh + self.offset_weight * lo, lh, lo

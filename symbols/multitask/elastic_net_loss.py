"""The pose loss of Luvizon et al. 2018: the elastic net on joint coordinates (paper Eq. 3) plus
binary cross-entropy on joint visibility (Sec. 5.2), masked per joint and per coordinate.

    L = 1/N_J sum_n (||p^_n - p_n||_1 + ||p^_n - p_n||_2^2)  +  w_v BCE(v^, v)

From the paper: Eq. (3); visibility supervised with binary cross-entropy, its target 0 for a joint
outside the crop; 2D-annotated samples back-propagate only the (x, y) gradients (Sec. 3.2); joints
a dataset lacks "have an invalid value that is not taken into account" (Appendix B).
From the cvpr18 code (``compile`` in deephar/models/reception.py, ``pose_regression_loss(...,
0.01)`` in exp/mpii/train_mpii_singleperson.py): w_v = 0.01; one such loss on every prediction
block's output, each with weight 1 (intermediate supervision); invalid coordinates are marked
in the targets and zeroed in both target and prediction.

Rulings where paper and code part: N_J counts the sample's joints with at least one known
coordinate (Eq. 3's per-joint mean; deephar/losses.py divides by the number of known coordinate
values instead, and its 'l1l2bincross' variant adds a 0.01 BCE on the coordinates, not kept);
visibility is averaged over the joints whose visibility target is known (the code trains every
joint's, writing 0 for a missing joint: pass 0 rather than NaN to get that).

Target layout, one pose per sample (any leading dims ``...``, e.g. (N,) or (N, T)):
    pose (..., J, 3) predicted x, y, z in [0, 1] (``SoftArgmax``); visible (..., J) in (0, 1)
    target (..., J, 3) in [0, 1]; NaN where unknown
    mask (..., J, 3) in {0, 1}: 0 removes a coordinate, e.g. z of a 2D-only sample
    visible_target (..., J) in {0, 1}; NaN where unknown (a joint missing from the dataset)
A coordinate trains when its mask is 1 and its target finite; a joint with no such coordinate and
a NaN visibility target trains nothing. Returns the loss per sample, (...).
"""
from mxnet.gluon.block import HybridBlock

EPS = 1e-7  # Keras's clip of probabilities in binary cross-entropy


class ElasticNetPoseLoss(HybridBlock):
    def __init__(self, visibility_weight=0.01, **kwargs):
        super().__init__(**kwargs)
        self.visibility_weight = visibility_weight

    def hybrid_forward(self, F, pose, visible, target, mask, visible_target):
        known = F.broadcast_equal(target, target) * mask  # NaN != NaN
        target = F.where(known, target, F.zeros_like(target))
        diff = (pose - target) * known  # masked coordinates: no value, no gradient
        per_joint = F.sum(F.abs(diff) + F.square(diff), axis=-1)  # (..., J), Eq. (3)
        joints = F.maximum(F.sum(F.max(known, axis=-1), axis=-1), 1.0)  # N_J, (...)
        pose_loss = F.sum(per_joint, axis=-1) / joints

        vknown = F.broadcast_equal(visible_target, visible_target)
        v = F.where(vknown, visible_target, F.zeros_like(visible_target))
        p = F.clip(visible, EPS, 1 - EPS)
        bce = -(v * F.log(p) + (1 - v) * F.log(1 - p)) * vknown  # (..., J)
        vis_loss = F.sum(bce, axis=-1) / F.maximum(F.sum(vknown, axis=-1), 1.0)
        return pose_loss + self.visibility_weight * vis_loss

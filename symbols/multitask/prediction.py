"""Pose prediction block of Luvizon et al. 2018 (paper Sec. 3.1.1, Fig. 2, Appendix A Fig. 12).

From the paper: K blocks refine the pose, each "composed of eight residual depth-wise
convolutions separated into three different resolutions", each predicting Nd x J heat maps whose
soft-argmax is that block's pose (every block is supervised); Nd = 16; K = 8 for pose estimation,
4 inside the action model.

Layer facts from the cvpr18 code (``build_reception_block``, ``build_sconv_block``,
``build_regmap_block``, ``build_fremap_block`` and the block loop of ``build`` in
deephar/models/reception.py; 5 x 5 kernels from ``ksize=(5, 5)`` in every exp/*/ script), for
input width C (576) at R x R (32 x 32):

    multi-resolution part, seven SR (Fig. 10) over three resolutions:
      a = SR(C -> C)                                              at R
      low = ReLU-1x1 conv C/2-BN(max pool 2x2(x)), SR(C/2)        at R/2
      b = SR(low)                                                 at R/2
      c = up 2x(SR(SR(SR(max pool 2x2(low)))))                    at R/4 -> R/2
      m = a + up 2x(SR(b + c -> C))                               at R
    s = ReLU-SC k x k-BN(m) (the eighth separable conv)
    h = ReLU-1x1 conv(s) -> Nd*J heat maps (no BN, no bias)       -> soft-argmax: pose, visibility
        (the 2D model of ref. [28], ``context`` C > 0: J sharp + C*J context maps instead,
        -> ``ContextSoftArgmax``; the cvpr18 MPII and Penn Action models, C = 2)
    next block input = m + s + ReLU-1x1 conv-BN(h -> C)            (not after the last block)

Nearest-neighbour up-sampling (Keras ``UpSampling2D``).
"""
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from symbols.multitask.separable_residual import ConvUnit, SeparableResidual
from symbols.softargmax import ContextSoftArgmax, SoftArgmax


class MultiResolution(HybridBlock):
    """The seven SR over three resolutions: (N, C, R, R) -> (N, C, R, R); R divisible by 4."""

    def __init__(self, channels, kernel=5, **kwargs):
        super().__init__(**kwargs)
        half = channels // 2
        with self.name_scope():
            self.full = SeparableResidual(channels, channels, kernel, prefix="l1_")
            self.pool = nn.MaxPool2D(2, 2)
            self.down = ConvUnit(half, channels, 1, order="rcb", prefix="l2_down_")
            self.l2_1 = SeparableResidual(half, half, kernel, prefix="l2_1_")
            self.l2_2 = SeparableResidual(half, half, kernel, prefix="l2_2_")
            self.l3 = nn.HybridSequential(prefix="l3_")
            with self.l3.name_scope():
                for _ in range(3):
                    self.l3.add(SeparableResidual(half, half, kernel))
            self.l2_3 = SeparableResidual(half, channels, kernel, prefix="l2_3_")

    def hybrid_forward(self, F, x):
        a = self.full(x)  # (N, C, R, R)
        low = self.l2_1(self.down(self.pool(x)))  # (N, C/2, R/2, R/2)
        b = self.l2_2(low)
        c = F.UpSampling(self.l3(self.pool(low)), scale=2, sample_type="nearest")  # R/4 -> R/2
        b = self.l2_3(b + c)  # (N, C, R/2, R/2)
        return a + F.UpSampling(b, scale=2, sample_type="nearest")


class PredictionBlock(HybridBlock):
    """Fig. 12: features (B, C, R, R) -> pose (B, J, 3), visibility (B, J), probability maps
    (B, J, R, R), multi-resolution features (B, C, R, R) and, unless ``last``, the next block's
    input (B, C, R, R), in that order."""

    def __init__(self, channels, num_joints, depth_bins, kernel=5, last=False, context=0,
                 context_alpha=0.8, **kwargs):
        super().__init__(**kwargs)
        self.last = last
        num_maps = (1 + context) * num_joints if context else depth_bins * num_joints
        with self.name_scope():
            self.multires = MultiResolution(channels, kernel, prefix="multires_")
            self.sepconv = ConvUnit(channels, channels, kernel, order="rcb", separable=True,
                                    prefix="sepconv_")
            self.regmap = ConvUnit(num_maps, channels, 1, order="rc", prefix="regmap_")
            self.softargmax = ContextSoftArgmax(num_joints, context, context_alpha) \
                if context else SoftArgmax(depth_bins)
            self.remap = None
            if not last:
                self.remap = ConvUnit(channels, num_maps, 1, order="rcb", prefix="remap_")

    def hybrid_forward(self, F, x):
        m = self.multires(x)
        s = self.sepconv(m)
        heat = self.regmap(s)  # (B, Nd*J, R, R), channel d*J + j; or (B, (1 + C)*J, R, R)
        pose, visible, prob = self.softargmax(heat)
        if self.last:
            return pose, visible, prob, m
        return pose, visible, prob, m, m + s + self.remap(heat)  # heat maps re-injected

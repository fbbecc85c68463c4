"""The multitask stem of Luvizon et al. 2018: the entry flow shared by pose estimation and
appearance features (paper Sec. 3.1.1 "entry flow based on Inception-V4", Appendix A, Fig. 11).

(N, 3, 256, 256) -> (N, 576, 32, 32): output stride 8.

Layer facts from the cvpr18 code (``_stem`` in deephar/models/reception.py, with its default
``old_model=False``; Fig. 11 is missing from the paper's text). Widths at ``width=1``:

    conv 3x3/2 32, conv 3x3 32, conv 3x3 64                        (conv-BN-ReLU)   -> 128 x 128
    [conv 3x3/2 96 (conv-BN-ReLU) | max pool 3x3/2]          concat 160            -> 64 x 64
    [1x1 64, 3x3 96 (last: conv-BN) | 1x1 64, 5x1 64, 1x5 64, 3x3 96 (last: conv-BN)]
                                                             concat 192            -> 64 x 64
    [ReLU-conv 3x3/2 192-BN | max pool 2x2/2]                concat 384            -> 32 x 32
    SR 384 -> 576 (3 x 3 separable, Fig. 10)                                       -> 32 x 32

``width`` scales every filter count (tiny models); the output has 3 x round(192 width) channels.
"""
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from symbols.multitask.separable_residual import ConvUnit, SeparableResidual


def scaled(filters, width):
    return max(1, int(round(filters * width)))


def concat_channels(F, *parts):
    """Channel concatenation followed by a copy (the no-op slice). The copy works around MXNet
    1.9's oneDNN on CPU: hybridized, the backward pass of a concat whose channel offsets are
    multiples of 8 but not of 16 (widths 0.125, 0.375) fails with "could not construct a
    sub-memory" when a separable convolution reads it, and on CPUs with AMX (Sapphire Rapids)
    the backward pass of the action model's tower concats dies of SIGFPE inside oneDNN; the copy
    hands the concat a plain-layout gradient. Values and gradients are unchanged."""
    return F.slice_axis(F.concat(*parts, dim=1), axis=1, begin=0, end=None)


class MultitaskStem(HybridBlock):
    """Fig. 11 entry flow; ``out_channels`` is the width of its (N, C, H/8, W/8) output."""

    def __init__(self, width=1.0, **kwargs):
        super().__init__(**kwargs)
        c = {n: scaled(n, width) for n in (32, 64, 96, 192)}
        with self.name_scope():
            self.conv1 = ConvUnit(c[32], 3, 3, stride=2, prefix="conv1_")
            self.conv2 = ConvUnit(c[32], c[32], 3, prefix="conv2_")
            self.conv3 = ConvUnit(c[64], c[32], 3, prefix="conv3_")
            # 1st split: strided conv | max pool
            self.split1_conv = ConvUnit(c[96], c[64], 3, stride=2, prefix="split1_conv_")
            self.split1_pool = nn.MaxPool2D(3, 2, padding=1)
            width1 = c[96] + c[64]
            # 2nd split: two towers ending in 3x3 96 without ReLU
            self.split2_a = nn.HybridSequential(prefix="split2_a_")
            with self.split2_a.name_scope():
                self.split2_a.add(ConvUnit(c[64], width1, 1),
                                  ConvUnit(c[96], c[64], 3, order="cb"))
            self.split2_b = nn.HybridSequential(prefix="split2_b_")
            with self.split2_b.name_scope():
                self.split2_b.add(ConvUnit(c[64], width1, 1),
                                  ConvUnit(c[64], c[64], (5, 1)),
                                  ConvUnit(c[64], c[64], (1, 5)),
                                  ConvUnit(c[96], c[64], 3, order="cb"))
            width2 = 2 * c[96]
            # 3rd split: strided pre-activation conv | max pool
            self.split3_conv = ConvUnit(c[192], width2, 3, stride=2, order="rcb",
                                        prefix="split3_conv_")
            self.split3_pool = nn.MaxPool2D(2, 2)
            width3 = c[192] + width2
            self.sr = SeparableResidual(width3, 3 * c[192], 3, prefix="sr_")
        self.out_channels = 3 * c[192]

    def hybrid_forward(self, F, x):
        x = self.conv3(self.conv2(self.conv1(x)))  # (N, 3, H, W) -> (N, 64, H/2, W/2)
        x = concat_channels(F, self.split1_conv(x), self.split1_pool(x))  # (N, 160, H/4, W/4)
        x = concat_channels(F, self.split2_a(x), self.split2_b(x))  # (N, 192, H/4, W/4)
        x = concat_channels(F, self.split3_conv(x), self.split3_pool(x))  # (N, 384, H/8, W/8)
        return self.sr(x)  # (N, 576, H/8, W/8)

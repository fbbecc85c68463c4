"""Separable residual module (SR) of Luvizon et al. 2018 (paper Fig. 10), and the convolution unit
every other figure of that paper is drawn with.

Paper (Appendix A, Fig. 10): depth-wise separable convolutions (SC), batch normalisation and
ReLU; an SR adds a shortcut to an SC, the shortcut is a plain convolution (C) when the input and
output widths differ.

From the cvpr18 code (deephar/layers.py, ``_sepconv_residual`` in deephar/models/reception.py):
- an SC is a k x k depth-wise convolution (one filter per channel) followed by a 1 x 1 point-wise
  one, with no normalisation or activation between them, and no biases;
- units come in four orders: conv-BN-ReLU, ReLU-conv-BN (the pre-activation order the SR and the
  prediction blocks use), conv-BN, ReLU-conv (the heat-map regression, no BN);
- batch norm has a shift but no learned scale (Keras ``scale=False``), with Keras's epsilon 1e-3
  and momentum 0.99; weights start from Glorot-uniform (Keras's default);
- SR: shortcut = identity, or ReLU-1x1 conv-BN when the widths differ; body = [ReLU-1x1 conv-BN
  down to the output width, only when the output is narrower] then ReLU-SC-BN; output = sum.

Layout: (N, C, H, W).
"""
from mxnet import init
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from symbols.resnet import fusable_relu

ORDERS = ("cbr", "rcb", "cb", "rc")  # c: convolution, b: batch norm, r: ReLU


def _pair(k):
    return (k, k) if isinstance(k, int) else tuple(k)


def batch_norm(channels):
    """BN without a learned scale, as Keras ``BatchNormalization(scale=False)`` (cvpr18 code)."""
    return nn.BatchNorm(in_channels=channels, scale=False, epsilon=1e-3, momentum=0.99,
                        prefix="bn_")


class ConvUnit(HybridBlock):
    """A bias-free convolution with 'same' padding, its BN and ReLU in ``order``.

    ``kernel`` is an int or (kh, kw); ``separable``: depth-wise k x k then point-wise 1 x 1 (SC).
    (N, in_channels, H, W) -> (N, channels, H / stride, W / stride).
    """

    def __init__(self, channels, in_channels, kernel, stride=1, order="cbr", separable=False,
                 **kwargs):
        super().__init__(**kwargs)
        if order not in ORDERS:
            raise ValueError(f"order is one of {ORDERS}, got {order!r}")
        self.order = order
        kernel = _pair(kernel)
        padding = tuple(k // 2 for k in kernel)
        conv_init = init.Xavier(rnd_type="uniform", factor_type="avg", magnitude=3)
        with self.name_scope():
            if separable:
                self.depthwise = nn.Conv2D(in_channels, kernel, strides=stride, padding=padding,
                                           groups=in_channels, use_bias=False,
                                           in_channels=in_channels, weight_initializer=conv_init,
                                           prefix="depthwise_")
                self.conv = nn.Conv2D(channels, 1, use_bias=False, in_channels=in_channels,
                                      weight_initializer=conv_init, prefix="pointwise_")
            else:
                self.depthwise = None
                self.conv = nn.Conv2D(channels, kernel, strides=stride, padding=padding,
                                      use_bias=False, in_channels=in_channels,
                                      weight_initializer=conv_init, prefix="conv_")
            self.bn = batch_norm(channels) if "b" in order else None

    def hybrid_forward(self, F, x):
        for i, step in enumerate(self.order):
            if step == "r":
                # After the unit's own convolution / batch norm, the ReLU oneDNN fuses into them.
                # A leading ReLU stays the plain operator: its input is a sum the shortcut reads
                # too, and MXNet 1.9.1's fusion pass gets that case wrong (fused outputs 2-5e-4
                # from float64's, against 1e-7 unfused; tests/test_precision.py).
                x = fusable_relu(F, x) if i > 0 else F.relu(x)
            elif step == "c":
                if self.depthwise is not None:
                    x = self.depthwise(x)
                x = self.conv(x)
            else:
                x = self.bn(x)
        return x


class SeparableResidual(HybridBlock):
    """Fig. 10 SR: (N, in_channels, H, W) -> (N, out_channels, H, W)."""

    def __init__(self, in_channels, out_channels, kernel=3, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.shortcut = None
            if in_channels != out_channels:
                self.shortcut = ConvUnit(out_channels, in_channels, 1, order="rcb",
                                         prefix="shortcut_")
            self.reduce = None
            if out_channels < in_channels:
                self.reduce = ConvUnit(out_channels, in_channels, 1, order="rcb", prefix="reduce_")
            width = out_channels if self.reduce is not None else in_channels
            self.body = ConvUnit(out_channels, width, kernel, order="rcb", separable=True,
                                 prefix="sepconv_")

    def hybrid_forward(self, F, x):
        identity = self.shortcut(x) if self.shortcut is not None else x
        y = self.reduce(x) if self.reduce is not None else x
        return identity + self.body(y)

"""The per-frame pose estimation head (paper Sec. 3, Fig. 3).

Two [4x4 deconv stride 2, 256 filters, BN, ReLU] layers and a 1x1 conv to 3K channels (K heatmaps
and 2K offsets, x and y) run on every time step of the backbone's output with shared weights: on
the paper's 2048 x 8 x 7 x 7 map they give 8 frames of 3K x 28 x 28.
"""
from mxnet import init
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .resnet import batch_norm


class PoseHead(HybridBlock):
    """(N, C, T, h, w) -> heatmap logits (N, T, K, 4h, 4w), offsets (N, T, K, 2, 4h, 4w).

    ``exportable``: fold time into the batch with a reshape that MXNet's ONNX exporter accepts
    (it refuses the special code -3); the same arrays, the same parameters.
    """

    def __init__(self, in_channels, num_keypoints=17, num_deconv=2, deconv_filters=256,
                 deconv_kernel=4, norm_kwargs=None, exportable=False, **kwargs):
        super().__init__(**kwargs)
        self.num_keypoints = num_keypoints
        self.exportable = exportable
        self.stride = 2 ** num_deconv  # heatmap cells per backbone cell
        with self.name_scope():
            self.deconvs = nn.HybridSequential(prefix="deconv_")
            channels = in_channels
            with self.deconvs.name_scope():
                for _ in range(num_deconv):
                    # padding 1 with kernel 4 and stride 2 doubles the size exactly
                    self.deconvs.add(nn.Conv2DTranspose(
                        deconv_filters, deconv_kernel, strides=2, padding=deconv_kernel // 2 - 1,
                        use_bias=False, in_channels=channels,
                        weight_initializer=init.Normal(0.001)))
                    self.deconvs.add(batch_norm(2, deconv_filters, norm_kwargs))
                    self.deconvs.add(nn.Activation("relu"))
                    channels = deconv_filters
            self.final = nn.Conv2D(3 * num_keypoints, 1, in_channels=channels,
                                   weight_initializer=init.Normal(0.001))

    def hybrid_forward(self, F, x):
        frames = F.transpose(x, axes=(0, 2, 1, 3, 4))  # (N, C, T, h, w) -> (N, T, C, h, w)
        if self.exportable:  # the last three axes kept, counted from the right
            y = F.reshape(frames, shape=(-1, 0, 0, 0), reverse=True)  # -> (N*T, C, h, w)
        else:
            y = F.reshape(frames, shape=(-3, -2))  # -> (N*T, C, h, w): frames share the head
        y = self.final(self.deconvs(y))  # -> (N*T, 3K, H, W)
        y = F.reshape_like(y, frames, lhs_begin=0, lhs_end=1, rhs_begin=0, rhs_end=2)
        # Channels are [heatmaps k=0..K-1, x offsets k=0..K-1, y offsets k=0..K-1]. split, not
        # slice_axis: in MXNet 1.9 with oneDNN, a slice whose only consumer is BlockGrad (the
        # decoder) crashes the imperative backward pass.
        heat, off_x, off_y = F.split(y, num_outputs=3, axis=2)  # 3 x (N, T, K, H, W)
        return heat, F.stack(off_x, off_y, axis=3)  # offsets (N, T, K, 2, H, W)

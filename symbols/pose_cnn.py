"""The pose CNN for pose-based action recognition (paper Sec. 3).

A keypoint sequence becomes a 3 x T x K "image" (channels x, y, confidence; time as height, joints
as width) and goes through a ResNet-18 (or -50) with every pooling removed and every stride 2 set
to 1, then global average pooling (512-d, or 2048-d), dropout 0.5 and a fully connected layer.
The average is a mean over time and joints rather than MXNet's global pooling operator: on these
small odd maps (8 x 17) oneDNN's pooling backward took 14 ms for a 1 ms mean, and the batch norm
backward after it slowed down as well; the tiny pose CNN's training step went from 62 to 17 ms
(one thread, batch 16, docs/performance.md). The value is the same.

``pose_input`` (beyond the paper, which feeds the crop-normalised keypoints as they are,
"absolute"): "centred" subtracts each clip's mean x and y over its frames and joints first, so
a shift of the whole body in the crop (the box jitter of training, up to 10 % of the box) does
not move the input; what is left is the pose and its motion. Confidence is unchanged.
"""
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .resnet import ResNet

POSE_INPUTS = ("absolute", "centred")


class PoseCNN(HybridBlock):
    """(N, 3, T, K) -> class logits (N, num_classes)."""

    def __init__(self, num_classes, depth=18, layers=None, base_width=64, dropout=0.5,
                 norm_kwargs=None, pose_input="absolute", **kwargs):
        super().__init__(**kwargs)
        if pose_input not in POSE_INPUTS:
            raise ValueError(f"pose_input is one of {', '.join(POSE_INPUTS)}, got {pose_input!r}")
        self.pose_input = pose_input
        with self.name_scope():
            self.resnet = ResNet(ndim=2, depth=depth, layers=layers, base_width=base_width,
                                 in_channels=3, stem_stride=1, pool=False,
                                 stage_strides=(1, 1, 1, 1), norm_kwargs=norm_kwargs)
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Dense(num_classes, in_units=self.resnet.out_channels)

    def hybrid_forward(self, F, x):
        if self.pose_input == "centred":  # (N, 3, T, K): x, y less their clip means
            xy = F.slice_axis(x, axis=1, begin=0, end=2)
            centre = F.mean(xy, axis=(2, 3), keepdims=True)  # (N, 2, 1, 1)
            x = F.concat(F.broadcast_sub(xy, centre), F.slice_axis(x, axis=1, begin=2, end=3),
                         dim=1)
        x = self.resnet(x)  # (N, 512, T, K) for ResNet-18
        return self.fc(self.dropout(F.mean(x, axis=(2, 3))))  # global average pool

"""The pose CNN for pose-based action recognition (paper Sec. 3).

A keypoint sequence becomes a 3 x T x K "image" (channels x, y, confidence; time as height, joints
as width) and goes through a ResNet-18 (or -50) with every pooling removed and every stride 2 set
to 1, then global average pooling (512-d, or 2048-d), dropout 0.5 and a fully connected layer.
"""
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from .resnet import ResNet


class PoseCNN(HybridBlock):
    """(N, 3, T, K) -> class logits (N, num_classes)."""

    def __init__(self, num_classes, depth=18, layers=None, base_width=64, dropout=0.5,
                 norm_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.resnet = ResNet(ndim=2, depth=depth, layers=layers, base_width=base_width,
                                 in_channels=3, stem_stride=1, pool=False,
                                 stage_strides=(1, 1, 1, 1), norm_kwargs=norm_kwargs)
            self.pool = nn.GlobalAvgPool2D()
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Dense(num_classes, in_units=self.resnet.out_channels)

    def hybrid_forward(self, F, x):
        x = self.resnet(x)  # (N, 512, T, K) for ResNet-18
        return self.fc(self.dropout(F.flatten(self.pool(x))))

"""The 2D pose model of paper Sec. 4.2: ResNet-50 (ImageNet init) + the same deconv head.

(N, 3, H, W) -> heatmap logits (N, K, H/s, W/s), offsets (N, K, 2, H/s, W/s) with s = 32 / 2**d
for d deconvs (the paper's head, d = 2, on a 384x288 input: 48x36 maps). It is the video model's
pose head run on a single frame: the head's time axis has length 1 here.
"""
from mxnet.gluon.block import HybridBlock

from .pose_head import PoseHead
from .resnet import ResNet


class PoseNet(HybridBlock):
    def __init__(self, depth=50, layers=None, base_width=64, num_keypoints=17, num_deconv=2,
                 deconv_filters=256, **kwargs):
        super().__init__(**kwargs)
        self.stride = 32 // 2 ** num_deconv
        with self.name_scope():
            self.backbone = ResNet(ndim=2, depth=depth, layers=layers, base_width=base_width,
                                   prefix="resnet_")
            self.pose_head = PoseHead(self.backbone.out_channels, num_keypoints, num_deconv,
                                      deconv_filters, prefix="pose_head_")

    def hybrid_forward(self, F, x):
        feat = F.expand_dims(self.backbone(x), axis=2)  # (N, C, h, w) -> (N, C, 1, h, w)
        heat, offsets = self.pose_head(feat)  # (N, 1, K, H, W), (N, 1, K, 2, H, W)
        return F.squeeze(heat, axis=1), F.squeeze(offsets, axis=1)

"""Deformable R-FCN with a ResNet-101 trunk (Dai et al. 2017): the person detector of the paper.

The network follows the COCO model the Deformable-ConvNets authors released as
``rfcn_dcn_coco-0000.params`` (an MXNet checkpoint with ``arg:``/``aux:`` names), so that file
loads directly with ``load_release_params``:

- trunk: MSRA/Caffe ResNet-v1-101 (stride on the first 1x1 conv of a downsampling unit, batch norm
  on running statistics). Stages res2..res4 give stride 16; res5 keeps stride 16 with dilation 2,
  and every 3x3 conv of res5 is a deformable convolution (4 offset groups) whose offsets come from
  a plain 3x3 conv ``resXX_branch2b_offset``.
- RPN on res4 (3x3 conv, 512 channels; 12 anchors: scales 4, 8, 16, 32 x ratios 0.5, 1, 2;
  stride 16) and proposals by MXNet's ``contrib.MultiProposal``.
- R-FCN head on res5: ``conv_new_1`` (1024) -> position-sensitive score maps (7 x 7 bins x 81
  classes) and class-agnostic box maps (7 x 7 x 4 x 2), each pooled by deformable PS-RoI pooling
  whose per-bin offsets come from a no-offset PS-RoI pooling of ``rfcn_*_offset_t``.

Names are the release's: ``conv1``, ``bn_conv1``, ``res{stage}{unit}_branch{1,2a,2b,2c}``,
``bn{stage}{unit}_...``, with units ``a, b, c`` in a stage of at most 3 units and ``a, b1, b2, ...``
otherwise (res3b1..b3, res4b1..b22 in ResNet-101). Gluon's ``running_mean``/``running_var`` are the
release's ``aux:..._moving_mean``/``..._moving_var``.

The outputs are raw (proposals, class probabilities, box deltas); ``symbols.detection.detect``
turns them into boxes per image with the release's test settings (``RFCNConfig``). Checkpoint
reading and writing: ``symbols.rfcn_release``. Both are re-exported here, so ``rfcn.detect`` and
``rfcn.load_release_params`` are the module's interface.
"""
import dataclasses

import mxnet as mx
from mxnet.gluon import HybridBlock, nn

from symbols.detector.detection import (
    decode_boxes,
    detect,
    image_scale,
    nms,
    postprocess,
    preprocess,
)
from symbols.detector.rfcn_release import (
    RELEASE_FILE,
    CheckpointError,
    load_release_params,
    missing_weights_message,
    save_release_params,
)
from symbols.resnet import fusable_relu

__all__ = ["RFCNConfig", "DETECTORS", "DeformableRFCN", "DeformableConv3x3", "Bottleneck",
           "get_detector", "unit_names", "decode_boxes", "detect", "image_scale", "nms",
           "postprocess", "preprocess", "RELEASE_FILE", "CheckpointError",
           "load_release_params", "missing_weights_message", "save_release_params"]


@dataclasses.dataclass(frozen=True)
class RFCNConfig:
    units: tuple = (3, 4, 23, 3)  # ResNet-101
    width: int = 64  # stem channels; bottleneck widths 64, 128, 256, 512 (x4 at the outputs)
    num_classes: int = 81  # COCO: background + 80; person is class 1
    class_agnostic: bool = True
    anchor_scales: tuple = (4, 8, 16, 32)
    anchor_ratios: tuple = (0.5, 1, 2)
    feat_stride: int = 16
    rpn_channels: int = 512
    head_channels: int = 1024
    group_size: int = 7  # PS-RoI bins per side
    sample_per_part: int = 4
    trans_std: float = 0.1
    deformable_groups: int = 4
    # Test settings of the release (rfcn_coco_demo.yaml / the COCO test config).
    scale: int = 600  # shorter image side
    max_size: int = 1000  # longer side cap
    pixel_means: tuple = (123.15, 115.90, 103.06)  # RGB; the release lists them as BGR
    rpn_pre_nms: int = 6000
    rpn_post_nms: int = 300
    rpn_nms: float = 0.7
    rpn_min_size: int = 0
    nms: float = 0.3
    max_per_image: int = 100
    score_floor: float = 1e-3  # detections below this score are dropped before NMS
    person_class: int = 1

    @property
    def num_anchors(self):
        return len(self.anchor_scales) * len(self.anchor_ratios)

    @property
    def num_reg_classes(self):
        return 2 if self.class_agnostic else self.num_classes


DETECTORS = {
    # The released COCO model.
    "dcn_rfcn": RFCNConfig(),
    # The same code at toy sizes: tests and the offline demo of the detection pass.
    "dcn_rfcn_tiny": RFCNConfig(units=(1, 1, 1, 1), width=8, rpn_channels=16, head_channels=16,
                                scale=128, max_size=224, rpn_pre_nms=500, rpn_post_nms=32),
}


def unit_names(stage, units):
    """Release unit names of one stage: a, b, c (<= 3 units) or a, b1, b2, ... (more)."""
    if units <= 3:
        return [f"{stage}{'abc'[i]}" for i in range(units)]
    return [f"{stage}a"] + [f"{stage}b{i}" for i in range(1, units)]


def _bn(prefix, channels):
    return nn.BatchNorm(epsilon=1e-5, use_global_stats=True, in_channels=channels, prefix=prefix)


class DeformableConv3x3(HybridBlock):
    """3x3 deformable convolution (no bias) with its offset conv ``NAME_offset`` (with bias)."""

    def __init__(self, name, in_channels, channels, dilation, groups):
        super().__init__(prefix=name + "_")
        self._kwargs = dict(kernel=(3, 3), pad=(dilation, dilation), dilate=(dilation, dilation),
                            num_filter=channels, num_deformable_group=groups, no_bias=True)
        with self.name_scope():
            self.offset = nn.Conv2D(2 * 9 * groups, 3, padding=dilation, dilation=dilation,
                                    in_channels=in_channels, prefix="offset_")
            self.weight = self.params.get("weight", shape=(channels, in_channels, 3, 3))

    def hybrid_forward(self, F, x, weight):
        return F.contrib.DeformableConvolution(x, self.offset(x), weight, **self._kwargs)


class Bottleneck(HybridBlock):
    """ResNet-v1 unit, release names: resNN_branch2{a,b,c} (+ branch1), bnNN_..."""

    def __init__(self, unit, in_channels, mid, out, stride=1, dilation=1, deformable=False,
                 groups=4):
        super().__init__(prefix="")
        res, bn = "res" + unit, "bn" + unit
        with self.name_scope():
            self.projection = in_channels != out or stride != 1
            if self.projection:
                self.branch1 = nn.Conv2D(out, 1, strides=stride, use_bias=False,
                                         in_channels=in_channels, prefix=f"{res}_branch1_")
                self.bn1 = _bn(f"{bn}_branch1_", out)
            self.branch2a = nn.Conv2D(mid, 1, strides=stride, use_bias=False,
                                      in_channels=in_channels, prefix=f"{res}_branch2a_")
            self.bn2a = _bn(f"{bn}_branch2a_", mid)
            if deformable:
                self.branch2b = DeformableConv3x3(f"{res}_branch2b", mid, mid, dilation, groups)
            else:
                self.branch2b = nn.Conv2D(mid, 3, padding=dilation, dilation=dilation,
                                          use_bias=False, in_channels=mid,
                                          prefix=f"{res}_branch2b_")
            self.bn2b = _bn(f"{bn}_branch2b_", mid)
            self.branch2c = nn.Conv2D(out, 1, use_bias=False, in_channels=mid,
                                      prefix=f"{res}_branch2c_")
            self.bn2c = _bn(f"{bn}_branch2c_", out)

    def hybrid_forward(self, F, x):
        shortcut = self.bn1(self.branch1(x)) if self.projection else x
        y = fusable_relu(F, self.bn2a(self.branch2a(x)))
        y = fusable_relu(F, self.bn2b(self.branch2b(y)))
        y = self.bn2c(self.branch2c(y))
        return fusable_relu(F, y + shortcut)


class DeformableRFCN(HybridBlock):
    """(images (B, 3, H, W) RGB minus means, im_info (B, 3) = height, width, scale) ->
    rois (B * R, 5) [batch index, x1, y1, x2, y2], class probabilities (B * R, classes),
    box deltas (B * R, 4 * reg classes); R = ``rpn_post_nms``."""

    def __init__(self, cfg=RFCNConfig()):
        super().__init__(prefix="")
        self.cfg = c = cfg
        w = c.width
        with self.name_scope():
            self.conv1 = nn.Conv2D(w, 7, strides=2, padding=3, use_bias=False, in_channels=3,
                                   prefix="conv1_")
            self.bn_conv1 = _bn("bn_conv1_", w)
            self.pool1 = nn.MaxPool2D(3, 2, ceil_mode=True)  # the release's 'full' convention
            self.res4 = nn.HybridSequential(prefix="")  # res2..res4: the shared trunk
            self.res5 = nn.HybridSequential(prefix="")
            in_ch = w
            for i, units in enumerate(c.units):
                stage, mid, out = i + 2, w * 2 ** i, w * 4 * 2 ** i
                body = self.res5 if stage == 5 else self.res4
                for j, name in enumerate(unit_names(stage, units)):
                    stride = 2 if j == 0 and stage in (3, 4) else 1
                    body.add(Bottleneck(name, in_ch, mid, out, stride,
                                        dilation=2 if stage == 5 else 1, deformable=stage == 5,
                                        groups=c.deformable_groups))
                    in_ch = out
            trunk4, trunk5 = w * 4 * 4, w * 4 * 8
            a, k, g2 = c.num_anchors, c.num_classes, c.group_size ** 2
            self.rpn_conv = nn.Conv2D(c.rpn_channels, 3, padding=1, in_channels=trunk4,
                                      prefix="rpn_conv_3x3_")
            self.rpn_cls_score = nn.Conv2D(2 * a, 1, in_channels=c.rpn_channels,
                                           prefix="rpn_cls_score_")
            self.rpn_bbox_pred = nn.Conv2D(4 * a, 1, in_channels=c.rpn_channels,
                                           prefix="rpn_bbox_pred_")
            self.conv_new_1 = nn.Conv2D(c.head_channels, 1, in_channels=trunk5,
                                        prefix="conv_new_1_")
            h = c.head_channels
            self.rfcn_cls = nn.Conv2D(g2 * k, 1, in_channels=h, prefix="rfcn_cls_")
            self.rfcn_bbox = nn.Conv2D(g2 * 4 * c.num_reg_classes, 1, in_channels=h,
                                       prefix="rfcn_bbox_")
            self.rfcn_cls_offset_t = nn.Conv2D(2 * g2 * k, 1, in_channels=h,
                                               prefix="rfcn_cls_offset_t_")
            self.rfcn_bbox_offset_t = nn.Conv2D(2 * g2, 1, in_channels=h,
                                                prefix="rfcn_bbox_offset_t_")

    def _psroi(self, F, maps, rois, output_dim, trans=None):
        c = self.cfg
        kwargs = dict(spatial_scale=1.0 / c.feat_stride, output_dim=output_dim,
                      group_size=c.group_size, pooled_size=c.group_size,
                      part_size=c.group_size, sample_per_part=c.sample_per_part)
        if trans is None:
            return F.contrib.DeformablePSROIPooling(maps, rois, no_trans=True, **kwargs)
        return F.contrib.DeformablePSROIPooling(maps, rois, trans, no_trans=False,
                                                trans_std=c.trans_std, **kwargs)

    def hybrid_forward(self, F, x, im_info):
        c = self.cfg
        a, k, reg = c.num_anchors, c.num_classes, c.num_reg_classes
        feat = self.res4(self.pool1(fusable_relu(F, self.bn_conv1(self.conv1(x)))))
        rpn = fusable_relu(F, self.rpn_conv(feat))
        score = self.rpn_cls_score(rpn)  # (B, 2A, H, W): A background maps, then A object maps
        prob = F.softmax(F.reshape(score, shape=(0, 2, -1, 0)), axis=1)
        prob = F.reshape(prob, shape=(0, 2 * a, -1, 0))
        rois = F.contrib.MultiProposal(
            prob, self.rpn_bbox_pred(rpn), im_info, feature_stride=c.feat_stride,
            scales=tuple(c.anchor_scales), ratios=tuple(c.anchor_ratios),
            rpn_pre_nms_top_n=c.rpn_pre_nms, rpn_post_nms_top_n=c.rpn_post_nms,
            threshold=c.rpn_nms, rpn_min_size=c.rpn_min_size)
        rois = F.BlockGrad(rois)
        head = fusable_relu(F, self.conv_new_1(self.res5(feat)))
        cls_trans = self._psroi(F, self.rfcn_cls_offset_t(head), rois, 2 * k)
        bbox_trans = self._psroi(F, self.rfcn_bbox_offset_t(head), rois, 2)
        cls = self._psroi(F, self.rfcn_cls(head), rois, k, cls_trans)
        bbox = self._psroi(F, self.rfcn_bbox(head), rois, 4 * reg, bbox_trans)
        cls = F.reshape(F.mean(cls, axis=(2, 3)), shape=(-1, k))
        bbox = F.reshape(F.mean(bbox, axis=(2, 3)), shape=(-1, 4 * reg))
        return rois, F.softmax(cls, axis=-1), bbox


def get_detector(name="dcn_rfcn", weights=None, ctx=mx.cpu(), **overrides):
    """A hybridized detector; ``weights``: a checkpoint in the release's naming, or None for
    random weights (tests, benchmarks)."""
    if name not in DETECTORS:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    cfg = dataclasses.replace(DETECTORS[name], **overrides)
    net = DeformableRFCN(cfg)
    if weights is None:
        net.initialize(mx.init.Normal(0.01), ctx=ctx)
    else:
        load_release_params(net, weights, ctx)
    net.hybridize(static_alloc=True)
    return net

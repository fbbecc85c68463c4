"""ResNet v1b in 2D or 3D: the one residual network of I3D, the pose CNN and the COCO pose model.

Parameter names follow GluonCV's ``ResNetV1b`` (``conv1``, ``bn1``, ``layer1.0.conv1`` ...,
``layer2.0.downsample.0``), so ImageNet weights are matched to this network by name, never by
position. "v1b" means the spatial stride of a stage sits in the 3x3 conv of its first block.

Layouts: 2D input (N, C, H, W); 3D input (N, C, T, H, W). In 3D every kernel is (t, h, w).
"""
from mxnet import init
from mxnet.gluon import contrib, nn
from mxnet.gluon.block import HybridBlock

# depth -> (block type, blocks per stage)
RESNET_LAYERS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
EXPANSION = {"basic": 1, "bottleneck": 4}
# He init with fan-out, as in the ResNet paper and GluonCV's models.
CONV_INIT = init.Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)


class _TimeFolded:
    """Batch norm over channels of (N, C, T, H, W), computed on the 4D view (N, C, T*H, W).

    The statistics are the same (all axes but C); the view exists because MXNet 1.9's oneDNN
    batch norm on 5D arrays corrupts the backward pass on CPU: weight gradients and updated
    weights become unreadable views (apache/mxnet#20858). Parameter names are unchanged.
    """

    def hybrid_forward(self, F, x, **params):
        y = F.reshape(x, shape=(0, 0, -3, 0))  # (N, C, T, H, W) -> (N, C, T*H, W)
        return F.reshape_like(super().hybrid_forward(F, y, **params), x)


class BatchNorm3D(_TimeFolded, nn.BatchNorm):
    pass


class SyncBatchNorm3D(_TimeFolded, contrib.nn.SyncBatchNorm):
    pass


def batch_norm(ndim, channels, norm_kwargs=None):
    """Batch norm for 2D or 3D maps. ``norm_kwargs`` go to the layer; among them
    ``sync_devices: N`` selects MXNet's SyncBatchNorm over N GPUs (it hangs on CPU contexts), and
    ``fold_time: False`` runs 3D batch norm on the 5D array itself: faster for inference (no
    layout copy, and oneDNN fuses conv + BN + ReLU) but not trainable on CPU (see BatchNorm3D)."""
    kwargs = dict(norm_kwargs or {})
    sync = kwargs.pop("sync_devices", 0)
    fold_time = kwargs.pop("fold_time", True)
    if sync:
        cls = SyncBatchNorm3D if ndim == 3 else contrib.nn.SyncBatchNorm
        return cls(in_channels=channels, num_devices=sync, **kwargs)
    cls = BatchNorm3D if ndim == 3 and fold_time else nn.BatchNorm
    return cls(in_channels=channels, **kwargs)


def conv(ndim, channels, in_channels, kernel, stride=1, temporal_kernel=1):
    """A bias-free convolution, 'same' padding; ``kernel``/``stride`` are spatial, time stride 1."""
    if ndim == 2:
        return nn.Conv2D(channels, kernel, strides=stride, padding=kernel // 2, use_bias=False,
                         in_channels=in_channels, weight_initializer=CONV_INIT)
    return nn.Conv3D(channels, (temporal_kernel, kernel, kernel), strides=(1, stride, stride),
                     padding=(temporal_kernel // 2, kernel // 2, kernel // 2), use_bias=False,
                     in_channels=in_channels, weight_initializer=CONV_INIT)


SHORTCUTS = ("strided", "subsample")


class SubsampledConv3D(nn.Conv3D):
    """A 1x1x1 convolution with spatial stride s, computed as a stride-s max pooling of kernel
    1x1x1 (every s-th position) and then the convolution at stride 1: the same numbers and the
    same parameter (``weight``). oneDNN runs a strided 1x1x1 convolution with a generic kernel
    and a layout copy around it; the pooling keeps its blocked layout and the stride-1
    convolution gets the 1x1 kernel (docs/performance.md)."""

    def __init__(self, channels, stride, in_channels, **kwargs):
        super().__init__(channels, (1, 1, 1), use_bias=False, in_channels=in_channels,
                         weight_initializer=CONV_INIT, **kwargs)
        self.subsample = (1, stride, stride)

    def hybrid_forward(self, F, x, weight, bias=None):
        x = F.Pooling(x, kernel=(1, 1, 1), stride=self.subsample, pool_type="max")
        return super().hybrid_forward(F, x, weight, bias)


def fusable_relu(F, x):
    """ReLU as the ``Activation`` operator: oneDNN's graph pass fuses it into the convolution
    and batch norm before it (``F.relu`` is a separate operator it leaves alone)."""
    return F.Activation(x, act_type="relu")


class BasicBlock(HybridBlock):
    """[3x3, 3x3] residual block (ResNet-18/34); in 3D the first conv is t x 3 x 3."""

    def __init__(self, ndim, in_channels, planes, stride=1, temporal_kernel=1, norm_kwargs=None,
                 shortcut="strided", **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv1 = conv(ndim, planes, in_channels, 3, stride, temporal_kernel)
            self.bn1 = batch_norm(ndim, planes, norm_kwargs)
            self.conv2 = conv(ndim, planes, planes, 3)
            self.bn2 = batch_norm(ndim, planes, norm_kwargs)
            self.downsample = _downsample(ndim, in_channels, planes, stride, norm_kwargs,
                                          shortcut)

    def hybrid_forward(self, F, x):
        out = fusable_relu(F, self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return fusable_relu(F, out + identity)


class Bottleneck(HybridBlock):
    """[t x 1 x 1, 1 x 3 x 3, 1 x 1 x 1] block of paper Table 1 (2D: [1x1, 3x3, 1x1])."""

    def __init__(self, ndim, in_channels, planes, stride=1, temporal_kernel=1, norm_kwargs=None,
                 shortcut="strided", **kwargs):
        super().__init__(**kwargs)
        out_channels = planes * EXPANSION["bottleneck"]
        with self.name_scope():
            self.conv1 = conv(ndim, planes, in_channels, 1, 1, temporal_kernel)
            self.bn1 = batch_norm(ndim, planes, norm_kwargs)
            self.conv2 = conv(ndim, planes, planes, 3, stride)
            self.bn2 = batch_norm(ndim, planes, norm_kwargs)
            self.conv3 = conv(ndim, out_channels, planes, 1)
            self.bn3 = batch_norm(ndim, out_channels, norm_kwargs)
            self.downsample = _downsample(ndim, in_channels, out_channels, stride, norm_kwargs,
                                          shortcut)

    def hybrid_forward(self, F, x):
        out = fusable_relu(F, self.bn1(self.conv1(x)))
        out = fusable_relu(F, self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return fusable_relu(F, out + identity)


def _downsample(ndim, in_channels, out_channels, stride, norm_kwargs, shortcut="strided"):
    """1x1 projection on the shortcut when the block changes width or resolution; in 3D with
    ``shortcut="subsample"`` a stride-2 projection is ``SubsampledConv3D`` (inference)."""
    if stride == 1 and in_channels == out_channels:
        return None
    seq = nn.HybridSequential(prefix="downsample_")
    with seq.name_scope():
        if shortcut == "subsample" and ndim == 3 and stride > 1:
            # the strided convolution's name (conv0_), so graph node names stay the same
            seq.add(SubsampledConv3D(out_channels, stride, in_channels, prefix="conv0_"))
        else:
            seq.add(conv(ndim, out_channels, in_channels, 1, stride))
        seq.add(batch_norm(ndim, out_channels, norm_kwargs))
    return seq


class ResNet(HybridBlock):
    """ResNet trunk without classifier: returns the last stage's feature map.

    Parameters
    ----------
    ndim : 2 or 3.
    depth : a key of ``RESNET_LAYERS``; ``layers`` overrides its blocks per stage (tiny models).
    base_width : channels of the first stage (64 in the paper); stage i has base_width * 2**i.
    stem_stride, pool, stage_strides : spatial strides; the pose CNN sets them all to 1 and
        removes the pooling (paper Sec. 3, "Pose-based action recognition").
    temporal_kernel : 3D only, time extent of every block's first conv (Table 1: 3).
    stem_temporal_kernel : 3D only, time extent of conv1 (Table 1: 5).
    norm_kwargs : passed to every BatchNorm, e.g. ``{"use_global_stats": True}``.
    shortcut : 3D only, how a block's stride-2 1x1x1 projection runs: ``strided`` (a strided
        convolution) or ``subsample`` (``SubsampledConv3D``: the same numbers, faster in oneDNN's
        fused inference graph; the inference networks use it).
    """

    def __init__(self, ndim=2, depth=50, layers=None, base_width=64, in_channels=3,
                 stem_stride=2, pool=True, stage_strides=(1, 2, 2, 2), temporal_kernel=3,
                 stem_temporal_kernel=5, norm_kwargs=None, shortcut="strided", **kwargs):
        super().__init__(**kwargs)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut is one of {', '.join(SHORTCUTS)}, got {shortcut!r}")
        if depth not in RESNET_LAYERS:
            raise ValueError(f"resnet depth {depth} is not one of {sorted(RESNET_LAYERS)}")
        if ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, got {ndim}")
        kind, default_layers = RESNET_LAYERS[depth]
        layers = tuple(layers) if layers is not None else default_layers
        block_cls = Bottleneck if kind == "bottleneck" else BasicBlock
        tk = temporal_kernel if ndim == 3 else 1
        with self.name_scope():
            self.conv1 = conv(ndim, base_width, in_channels, 7, stem_stride, stem_temporal_kernel)
            self.bn1 = batch_norm(ndim, base_width, norm_kwargs)
            # pool1: 3x3 max, stride 2, spatial only: no temporal pooling anywhere (Sec. 3)
            if not pool:
                self.maxpool = None
            elif ndim == 2:
                self.maxpool = nn.MaxPool2D(3, 2, 1)
            else:
                self.maxpool = nn.MaxPool3D((1, 3, 3), (1, 2, 2), (0, 1, 1))
            channels = base_width
            for i, (blocks, stride) in enumerate(zip(layers, stage_strides)):
                stage = nn.HybridSequential(prefix=f"layer{i + 1}_")
                planes = base_width * 2 ** i
                with stage.name_scope():
                    for b in range(blocks):
                        stage.add(block_cls(ndim, channels, planes, stride if b == 0 else 1, tk,
                                            norm_kwargs, shortcut))
                        channels = planes * EXPANSION[kind]
                setattr(self, f"layer{i + 1}", stage)
        self.num_stages = len(layers)
        self.out_channels = channels

    def stages(self):
        """(paper name, blocks) per stage, for summaries: conv1, pool1, res2 ... res5."""
        rows = [("conv1", [self.conv1, self.bn1])]
        if self.maxpool is not None:
            rows.append(("pool1", [self.maxpool]))
        rows += [(f"res{i + 2}", [getattr(self, f"layer{i + 1}")]) for i in range(self.num_stages)]
        return rows

    def hybrid_forward(self, F, x):
        x = fusable_relu(F, self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x

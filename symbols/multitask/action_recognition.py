"""Action recognition of Luvizon et al. 2018: the pose-based and appearance-based streams
(paper Sec. 4.1, 4.2, Figs. 5, 6, 13) and their aggregation (Sec. 4.3).

Layout: a stream's input is an image (N, C, T, J): time as rows, joints as columns, and as
channels the coordinates (pose, C = 2 or 3) or the appearance features (C = N_f).

From the paper: fully convolutional "action heat maps" pooled by max plus min, then softmax; K
action prediction blocks with intermediate supervision, each re-injecting its action maps into the
next; appearance features = the visual features times each joint's probability map, summed over
space (Fig. 6); the two streams combined by "a fully-connected layer with Softmax activation";
the pose stream uses half the appearance stream's filters (Fig. 13).

Layer facts from the cvpr18 code (deephar/models/action.py ``build_act_pred_block``,
``build_pose_model``, ``build_visual_model``, ``build_merge_model``, ``kronecker_prod`` and
``max_min_pooling`` in deephar/layers.py):
- pose entry: coordinates times the joint's visibility; [conv 3x1 f0 | 3x3 f1 | 3x5 f2]
  (conv-BN-ReLU, kernels rows x cols = time x joints), concat; [3x3 f3 | 1x1 f4, 3x3 f5]
  (conv-BN), concat; max+min pool 2x2. f = (8, 16, 24, 56, 32, 56) ('v1', Penn Action) or
  (12, 24, 36, 112, 64, 112) ('v2', NTU);
- appearance entry: 1x1 conv-BN to 256, max pool 2x2;
- action block, width F: x += ReLU-1x1 F/2-BN, ReLU-3x3 F-BN; x1 = ReLU-3x3 F-BN(x);
  action maps = ReLU-3x3 conv N_a (no BN) of max+min pool 2x2(x1); logits = global max+min of
  the maps; unless last: x = x + x1 + ReLU-3x3 F-BN(up 2x(maps));
- aggregation: each stream's last action maps through a trainable 1x1 map over actions that
  starts as the identity (a depth-wise scale times a point-wise matrix in the code, one matrix
  here: the same functions), summed, then global max+min pooling and softmax.
Here every block outputs logits (before the softmax; the loss applies it). Pooling rounds up
('same' in the code), so odd T or J work; up-sampled maps are cropped to their target.
"""
from mxnet import init
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from symbols.multitask.separable_residual import ConvUnit
from symbols.multitask.stem import concat_channels

POSE_FILTERS = {"v1": (8, 16, 24, 56, 32, 56), "v2": (12, 24, 36, 112, 64, 112)}


def max_plus_min_pool(F, x):
    """2x2 stride-2 max plus min pooling, rounding up: (N, C, H, W) -> (N, C, ceil(H/2), ...)."""
    kw = dict(kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full")
    return F.Pooling(x, **kw) - F.Pooling(-x, **kw)


def global_max_plus_min(F, x):
    """(N, C, H, W) -> (N, C): the strongest positive plus the strongest negative response."""
    return F.max(x, axis=(2, 3)) + F.min(x, axis=(2, 3))


class _Eye(init.Initializer):
    """Identity over the first two axes of a (C, C, 1, 1) kernel."""

    def _init_weight(self, name, arr):
        arr[:] = 0
        for i in range(min(arr.shape[:2])):
            arr[i, i] = 1


class ActionPredictionBlock(HybridBlock):
    """(N, F, t, j) -> logits (N, N_a), action maps (N, N_a, t/2, j/2) and, unless ``last``,
    the next block's input (N, F, t, j)."""

    def __init__(self, channels, num_actions, last=False, **kwargs):
        super().__init__(**kwargs)
        self.last = last
        with self.name_scope():
            self.reduce = ConvUnit(channels // 2, channels, 1, order="rcb", prefix="reduce_")
            self.expand = ConvUnit(channels, channels // 2, 3, order="rcb", prefix="expand_")
            self.conv = ConvUnit(channels, channels, 3, order="rcb", prefix="conv_")
            self.maps = ConvUnit(num_actions, channels, 3, order="rc", prefix="maps_")
            self.remap = None
            if not last:
                self.remap = ConvUnit(channels, num_actions, 3, order="rcb", prefix="remap_")

    def hybrid_forward(self, F, x):
        x = x + self.expand(self.reduce(x))
        x1 = self.conv(x)
        maps = self.maps(max_plus_min_pool(F, x1))  # (N, N_a, t/2, j/2)
        logits = global_max_plus_min(F, maps)
        if self.last:
            return logits, maps
        up = F.slice_like(F.UpSampling(maps, scale=2, sample_type="nearest"), x1, axes=(2, 3))
        return logits, maps, x + x1 + self.remap(up)  # action maps re-injected


class ActionRecognition(HybridBlock):
    """One stream (Fig. 5 / Fig. 13): entry flow then ``num_blocks`` action prediction blocks.

    kind "pose": input (N, D, T, J) coordinates, times ``visible`` (N, 1, T, J); ``filters`` the
    six entry widths (``POSE_FILTERS``). kind "appearance": input (N, N_f, T, J); ``filters`` the
    entry's width (256). Returns each block's logits (N, N_a), then the last action maps
    (N, N_a, T/4, J/4).
    """

    def __init__(self, kind, in_channels, num_actions, num_blocks=4, filters=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("pose", "appearance"):
            raise ValueError(f"an action stream is 'pose' or 'appearance', got {kind!r}")
        self.kind = kind
        with self.name_scope():
            if kind == "pose":
                f = tuple(filters or POSE_FILTERS["v1"])
                if len(f) != 6:
                    raise ValueError(f"the pose stream takes six entry widths, got {f}")
                self.tower_a = ConvUnit(f[0], in_channels, (3, 1), prefix="tower_a_")
                self.tower_b = ConvUnit(f[1], in_channels, 3, prefix="tower_b_")
                self.tower_c = ConvUnit(f[2], in_channels, (3, 5), prefix="tower_c_")
                width = f[0] + f[1] + f[2]
                self.tower_d = ConvUnit(f[3], width, 3, order="cb", prefix="tower_d_")
                self.tower_e = nn.HybridSequential(prefix="tower_e_")
                with self.tower_e.name_scope():
                    self.tower_e.add(ConvUnit(f[4], width, 1, order="cb"),
                                     ConvUnit(f[5], f[4], 3, order="cb"))
                channels = f[3] + f[5]
            else:
                channels = filters or 256
                self.entry = ConvUnit(channels, in_channels, 1, order="cb", prefix="entry_")
            self.blocks = nn.HybridSequential(prefix="block")
            with self.blocks.name_scope():
                for b in range(num_blocks):
                    self.blocks.add(ActionPredictionBlock(channels, num_actions,
                                                          last=b == num_blocks - 1,
                                                          prefix=f"{b + 1}_"))

    def hybrid_forward(self, F, x, visible=None):
        if self.kind == "pose":
            x = F.broadcast_mul(x, visible)  # coordinates weighted by visibility (cvpr18 code)
            x = concat_channels(F, self.tower_a(x), self.tower_b(x), self.tower_c(x))
            x = max_plus_min_pool(F, concat_channels(F, self.tower_d(x), self.tower_e(x)))
        else:
            x = F.Pooling(self.entry(x), kernel=(2, 2), stride=(2, 2), pool_type="max",
                          pooling_convention="full")
        logits = []  # (N, F, T/2, J/2) from here on
        for block in self.blocks:
            out = block(x)
            logits.append(out[0])
            maps = out[1]
            if not block.last:
                x = out[2]
        return tuple(logits) + (maps,)


class AppearanceFeatures(HybridBlock):
    """Fig. 6: probability maps (N*T, J, H, W) and visual features (N*T, N_f, H, W) -> the
    appearance image (N, N_f, T, J): per joint, the features summed over space weighted by its
    probability map. ``frames`` (N, T, ...) gives N and T. No parameters."""

    def hybrid_forward(self, F, prob, features, frames):
        prob = F.reshape(prob, shape=(0, 0, -3))  # (N*T, J, H*W)
        features = F.reshape(features, shape=(0, 0, -3))  # (N*T, N_f, H*W)
        v = F.batch_dot(prob, features, transpose_b=True)  # (N*T, J, N_f)
        v = F.reshape_like(v, frames, lhs_begin=0, lhs_end=1, rhs_begin=0, rhs_end=2)
        return F.transpose(v, axes=(0, 3, 1, 2))  # (N, T, J, N_f) -> (N, N_f, T, J)


def joint_maps(F, poses, like):
    """Probability maps built from given joints instead of predicted ones (the appearance
    stream's attention for Table 3's "annotated poses" and Table 5's "Kinect poses"): poses
    (B, J, 4) x, y in [0, 1] of the crop (cell c of an n-cell axis at c / (n - 1), the
    soft-argmax grid) and a weight; ``like`` (B, J, H, W) gives the grid -> (B, J, H, W). A map
    is the sharpest one whose expectation (Eq. 2) is the joint: its mass split bilinearly over
    the (up to) four cells around it, times the weight (0: no features for that joint)."""
    cols = F.reshape(F.contrib.arange_like(like, axis=3), shape=(1, 1, -1))  # (1, 1, W)
    rows = F.reshape(F.contrib.arange_like(like, axis=2), shape=(1, 1, -1))  # (1, 1, H)
    last_col = F.maximum(F.max(cols), 1.0)  # W - 1 (one cell: 1, the cell at 0)
    last_row = F.maximum(F.max(rows), 1.0)
    x = F.broadcast_mul(F.slice_axis(poses, axis=-1, begin=0, end=1), last_col)  # (B, J, 1)
    y = F.broadcast_mul(F.slice_axis(poses, axis=-1, begin=1, end=2), last_row)
    col_weight = F.relu(1 - F.abs(F.broadcast_sub(x, cols)))  # (B, J, W): the hat function
    row_weight = F.relu(1 - F.abs(F.broadcast_sub(y, rows)))  # (B, J, H)
    maps = F.broadcast_mul(F.expand_dims(row_weight, axis=3), F.expand_dims(col_weight, axis=2))
    weight = F.expand_dims(F.slice_axis(poses, axis=-1, begin=3, end=4), axis=3)  # (B, J, 1, 1)
    return F.broadcast_mul(maps, weight)


class ActionAggregation(HybridBlock):
    """Sec. 4.3: the two streams' last action maps (N, N_a, t, j) each -> logits (N, N_a)."""

    def __init__(self, num_actions, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.pose = nn.Conv2D(num_actions, 1, use_bias=False, in_channels=num_actions,
                                  weight_initializer=_Eye(), prefix="pose_")
            self.appearance = nn.Conv2D(num_actions, 1, use_bias=False, in_channels=num_actions,
                                        weight_initializer=_Eye(), prefix="appearance_")

    def hybrid_forward(self, F, pose_maps, appearance_maps):
        return global_max_plus_min(F, self.pose(pose_maps) + self.appearance(appearance_maps))

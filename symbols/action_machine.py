"""Action Machine (paper Sec. 3, Fig. 2/3): I3D + RGB head + per-frame pose head + pose CNN.

    clip (N, 3, T, H, W) --I3D--> (N, 2048, T, H/32, W/32)
        --> RGB head: global average pool, dropout 0.5, FC                -> rgb logits (N, n)
        --> pose head: 2 deconvs + 1x1 conv per frame                     -> heatmaps, offsets
            --> decoder: argmax + offset, ReLU(max) confidence (no gradient); or, beyond
                the paper (decoder="softargmax"), Luvizon et al.'s differentiable soft-argmax
                --> pose CNN on (N, 3, T, K)                              -> pose logits (N, n)

The heads are switchable so that every ablation row of paper Tables 8, 9 and 13 is a
configuration of this one block: ``heads=("rgb",)`` is RGBAction, ``("rgb", "kps")`` is
KPS RGBAction, ``("rgb", "kps", "pose")`` is KPS PoseAction RGBAction.
"""
from mxnet import gluon, ndarray
from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from data.pose_targets import disk_radius

from .i3d import i3d_resnet
from .pose_cnn import PoseCNN
from .pose_decoder import KeypointDecoder
from .pose_head import PoseHead
from .pose_loss import PoseLoss
from .softargmax import SoftArgmaxKeypoints

HEADS = ("rgb", "kps", "pose")


def check_heads(heads):
    heads = tuple(heads)
    unknown = [h for h in heads if h not in HEADS]
    if unknown:
        raise ValueError(f"unknown head {unknown[0]!r}; heads are a subset of {HEADS}")
    if "rgb" not in heads:
        raise ValueError("the RGB head is part of every Action Machine configuration")
    if "pose" in heads and "kps" not in heads:
        raise ValueError("the pose CNN ('pose') reads the pose head's keypoints: add 'kps'")
    return tuple(h for h in HEADS if h in heads)


class RGBHead(HybridBlock):
    """Eq. (1): global average pool -> dropout -> FC; (N, C, T, h, w) -> (N, n) logits."""

    def __init__(self, in_channels, num_classes, dropout=0.5, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.pool = nn.GlobalAvgPool3D()
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Dense(num_classes, in_units=in_channels)

    def hybrid_forward(self, F, x):
        return self.fc(self.dropout(F.flatten(self.pool(x))))


class ActionMachine(HybridBlock):
    """The video model. Returns a tuple in the order of ``output_names``.

    rgb (N, n) logits; heatmaps (N, T, K, H/8, W/8) logits; offsets (N, T, K, 2, H/8, W/8) in
    units of the disk radius; pose (N, n) logits. Keypoints enter the pose CNN normalised to the
    input crop, x and y in [0, 1].

    ``exportable=True`` builds the same network (parameter names, outputs) from operators that
    MXNet 1.9's ONNX exporter translates (``export_onnx.py``): no reshape code -3, no ``pick``,
    and 3D batch norm on the 5D array (``bn_fold_time=False``, inference only). Training keeps
    the default.
    """

    def __init__(self, num_classes, heads=HEADS, depth=50, layers=None, base_width=64,
                 temporal_kernel=3, stem_temporal_kernel=5, input_size=224, num_keypoints=17,
                 num_deconv=2, deconv_filters=256, radius=None, pose_cnn_depth=18,
                 pose_cnn_layers=None, pose_cnn_width=64, dropout=0.5, global_stats="none",
                 sync_devices=0, bn_fold_time=True, decoder="argmax", exportable=False,
                 pose_input="absolute", shortcut="strided", **kwargs):
        super().__init__(**kwargs)
        if exportable and (bn_fold_time or decoder != "argmax"):
            raise ValueError("an exportable model needs bn_fold_time=False (the folded batch "
                             "norm reshapes with code -3) and the argmax decoder (the soft-argmax"
                             f" one reshapes with -3 too); got bn_fold_time={bn_fold_time}, "
                             f"decoder={decoder!r}")
        self.heads = check_heads(heads)
        self.input_size = input_size
        self.stride = 32 // 2 ** num_deconv  # input pixels per heatmap cell (8 in the paper)
        self.radius = radius if radius is not None else disk_radius(input_size, self.stride)
        # Batch norm on running statistics: "backbone" freezes I3D and the pose head (stage 2:
        # "we fix it and only train the pose CNN"), "all" every layer.
        if decoder not in ("argmax", "softargmax"):
            raise ValueError(f"decoder is argmax or softargmax, got {decoder!r}")
        if global_stats not in ("none", "backbone", "all"):
            raise ValueError(f"global_stats is one of none, backbone, all; got {global_stats!r}")
        sync = {"sync_devices": sync_devices} if sync_devices else {}
        backbone_norm = dict(sync, use_global_stats=global_stats != "none",
                             fold_time=bn_fold_time)
        pose_cnn_norm = dict(sync, use_global_stats=global_stats == "all")
        with self.name_scope():
            self.backbone = i3d_resnet(depth, layers, base_width, temporal_kernel,
                                       stem_temporal_kernel, backbone_norm, shortcut=shortcut,
                                       prefix="i3d_")
            channels = self.backbone.out_channels
            self.rgb_head = RGBHead(channels, num_classes, dropout, prefix="rgb_")
            self.pose_head = self.decoder = self.pose_cnn = None
            if "kps" in self.heads:
                self.pose_head = PoseHead(channels, num_keypoints, num_deconv, deconv_filters,
                                          norm_kwargs=backbone_norm, exportable=exportable,
                                          prefix="pose_head_")
            if "pose" in self.heads and decoder == "argmax":
                self.decoder = KeypointDecoder(self.stride, self.radius,
                                               input_size=(input_size, input_size),
                                               exportable=exportable)
            elif "pose" in self.heads:  # beyond the paper: the pose-action loss trains the head
                self.decoder = SoftArgmaxKeypoints(self.stride, (input_size, input_size),
                                                   confidence="relu")
            if "pose" in self.heads:
                self.pose_cnn = PoseCNN(num_classes, pose_cnn_depth, pose_cnn_layers,
                                        pose_cnn_width, dropout, pose_cnn_norm,
                                        pose_input=pose_input, prefix="pose_cnn_")

    @property
    def output_names(self):
        names = ["rgb"]
        if "kps" in self.heads:
            names += ["heatmaps", "offsets"]
        if "pose" in self.heads:
            names.append("pose")
        return names

    def stages(self):
        """(name, blocks) rows in execution order, for ``symbols.summary``."""
        rows = self.backbone.stages() + [("rgb_head", [self.rgb_head])]
        if self.pose_head is not None:
            rows.append(("pose_head", [self.pose_head]))
        if self.pose_cnn is not None:
            rows += [("decoder", [self.decoder]), ("pose_cnn", [self.pose_cnn])]
        return rows

    def hybrid_forward(self, F, x):
        outputs, poses = self._before_pose_cnn(F, x)
        if poses is not None:
            outputs.append(self.pose_cnn(poses))
        return tuple(outputs)

    def before_pose_cnn(self, x):
        """Everything before the pose CNN, each part on its own graph: -> (the outputs of
        ``output_names`` but "pose", the pose CNN's input (N, 3, T, K) or None). Stage 2 (Sec.
        4.6) runs it outside autograd's recording, the KPS RGBAction model being frozen, so
        that backward runs through the pose CNN alone."""
        return self._before_pose_cnn(ndarray, x)

    def _before_pose_cnn(self, F, x):
        feat = self.backbone(x)  # (N, 3, T, H, W) -> (N, 2048, T, H/32, W/32)
        outputs, poses = [self.rgb_head(feat)], None
        if self.pose_head is not None:
            heat, offsets = self.pose_head(feat)  # (N, T, K, H/8, W/8), (N, T, K, 2, H/8, W/8)
            outputs += [heat, offsets]
            if self.pose_cnn is not None:
                if isinstance(self.decoder, KeypointDecoder):
                    keypoints = self.decoder(heat, offsets)  # (N, T, K, 3), no gradient
                else:
                    keypoints = self.decoder(heat)  # (N, T, K, 3), differentiable
                poses = F.transpose(keypoints, axes=(0, 3, 1, 2))  # -> (N, 3, T, K)
        return outputs, poses


class ActionMachineLoss:
    """Eq. (8): L = l1 Lr + l2 Lp + l3 Lpaction (all 1.0 in the paper), per clip.

    ``terms``: which of the losses ("rgb", "kps", "pose") to compute; stage 2 of the paper trains
    the pose CNN alone, ("pose",). ``outputs`` maps output names to arrays; pose targets are
    needed for "kps". Returns the total (N,) and a dict of the parts (each (N,)), for logging.
    """

    def __init__(self, terms=HEADS, weights=(1.0, 1.0, 1.0), heatmap_weight=0.5,
                 offset_weight=0.5, heatmap_loss="smooth_l1", frames="mean"):
        unknown = [t for t in terms if t not in HEADS]
        if unknown or not terms:
            raise ValueError(f"loss terms are a non-empty subset of {HEADS}, got {terms}")
        self.terms = tuple(terms)
        self.weights = dict(zip(HEADS, weights))
        self.ce = gluon.loss.SoftmaxCrossEntropyLoss()
        self.pose_loss = PoseLoss(heatmap_weight, offset_weight, heatmap_loss, frames)

    def __call__(self, outputs, label, heat_target=None, offset_target=None, weight=None):
        parts = {}
        if "rgb" in self.terms:
            parts["rgb"] = self.ce(outputs["rgb"], label)  # Eq. (2)
        if "kps" in self.terms:
            if heat_target is None:
                raise ValueError("the pose loss is on but no pose targets were given")
            parts["kps"], parts["heatmap"], parts["offset"] = self.pose_loss(
                outputs["heatmaps"], outputs["offsets"], heat_target, offset_target, weight)
        if "pose" in self.terms:
            parts["pose"] = self.ce(outputs["pose"], label)  # Eq. (7)
        total = sum(self.weights[t] * parts[t] for t in self.terms)
        return total, parts

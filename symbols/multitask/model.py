"""The multitask network of Luvizon et al. 2018 ("2D/3D Pose Estimation and Action Recognition
using Multitask Deep Learning", CVPR 2018; paper Fig. 1, 2, 5, 6): 2D/3D pose by soft-argmax from
still images, and actions from clips through a pose stream and an appearance stream.

    frames (B, 3, H, W) --multitask stem--> (B, C, H/8, W/8)                    Fig. 11
        --> K prediction blocks, each -> pose (B, J, 3), visibility (B, J)    Fig. 12, Eq. (2)
    clip (N, 3, T, H, W): the same per frame (B = N*T), then
        pose of block K (N, D, T, J) x visibility --> pose stream              Fig. 5, Sec. 4.1
        prob maps of block K, features of block 1 --> appearance (N, C, T, J)  Fig. 6, Sec. 4.2
            --> appearance stream                                              Fig. 13
        both streams' last action maps --> aggregation                         Sec. 4.3

``parts="pose"`` is the pose model (K = 8 in the paper), ``parts="pose+action"`` the whole
multitask model (K = 4). Sizes come from ``MultitaskConfig``; the ``_tiny`` models of
``symbols.model_zoo`` are this same code at toy widths.

From the cvpr18 code (``_get_3d_pose_estimation_from_model`` and ``build_merge_model`` in
deephar/models/action.py): the action model reads the pose, visibility and probability maps of
the last prediction block, and takes its visual features after the first prediction block's
multi-resolution part (the paper says "at the end of the global entry flow"); NTU uses K = 4,
J = 20, T = 20 and the 'v2' pose-stream widths (exp/ntu/eval_ntu_ar_pe_merge.py) with Nd = 8,
where Appendix A says Nd = 16 (``softargmax_multitask`` takes the paper's 16; a ruling in
docs/paper.md); Human3.6M K = 8, J = 17, Nd = 16 (exp/h36m/eval_h36m.py).
"""
import dataclasses

from mxnet.gluon import nn
from mxnet.gluon.block import HybridBlock

from symbols.multitask.action_recognition import (
    POSE_FILTERS,
    ActionAggregation,
    ActionRecognition,
    AppearanceFeatures,
    joint_maps,
)
from symbols.multitask.prediction import PredictionBlock
from symbols.multitask.stem import MultitaskStem

PARTS = ("pose", "pose+action")
# "annotated": the pose stream reads the annotation's joints (pose_input; Table 3's "annotated
# poses", Table 5's "Kinect poses"), and / or the appearance stream attends through maps built
# from them (attention_maps; ``joint_maps``), given to the forward as ``poses`` (N, T, J, 4):
# x, y, z in the crop's normalised coordinates (data.multitask.pose_frames.encode) and a 0/1
# weight.
POSE_INPUTS = ("estimated", "annotated")
POSE_PART = ("stem.", "blocks.")  # structural names of the pose part's parameters


def _use_running_statistics(block):
    if isinstance(block, nn.BatchNorm):
        block._kwargs["use_global_stats"] = True  # the flag nn.BatchNorm passes to F.BatchNorm


@dataclasses.dataclass(frozen=True)
class MultitaskConfig:
    parts: str = "pose"  # "pose" or "pose+action"
    input_size: int = 256  # square crops (Appendix B); divisible by 32
    num_joints: int = 17
    depth_bins: int = 16  # Nd (Appendix A: 16; the cvpr18 NTU model: 8)
    context_maps: int = 0  # C > 0: ref. [28]'s 2D model, J sharp + C*J context heat maps instead
    # of Nd*J volumetric ones (the cvpr18 MPII / Penn models: C = 2); 0: the volumetric 3D model
    context_alpha: float = 0.8  # the sharp position's weight against the context maps' (cvpr18)
    pose_blocks: int = 8  # K (Appendix B: 8 for pose, 4 for action)
    kernel_size: int = 5  # separable convs of the prediction blocks (cvpr18 exp/: 5 x 5)
    width: float = 1.0  # multiplies the stem's filters, hence every block's width (576 at 1)
    num_frames: int = 20  # T; not a weight shape: the clip length for summaries
    num_actions: int = 60
    action_blocks: int = 4
    pose_dim: int = 3  # coordinates the pose stream reads: 2 (x, y) or 3 (x, y, z)
    pose_action_filters: tuple = POSE_FILTERS["v2"]
    appearance_action_filters: int = 256
    pose_input: str = "estimated"  # the pose stream's input: "estimated" or "annotated" poses
    attention_maps: str = "estimated"  # the appearance stream's probability maps: the pose
    # part's ("estimated") or built from the annotated joints ("annotated")

    def network_kwargs(self):
        kwargs = dataclasses.asdict(self)
        kwargs.pop("num_frames")
        return kwargs


class MultitaskNet(HybridBlock):
    """Returns a tuple in the order of ``output_names``.

    parts "pose": input (N, 3, H, W); outputs pose1..poseK (N, J, 3), x, y, z in [0, 1] of the
    crop (x, y) and of the depth range (z); visible1..visibleK (N, J) in (0, 1).
    parts "pose+action": input (N, 3, T, H, W); pose{k} (N, T, J, 3), visible{k} (N, T, J);
    pose_action{b} and appearance_action{b} (N, N_a) logits of each action block; action (N, N_a)
    the aggregated logits.
    """

    def __init__(self, parts="pose", input_size=256, num_joints=17, depth_bins=16, pose_blocks=8,
                 kernel_size=5, width=1.0, num_actions=60, action_blocks=4, pose_dim=3,
                 pose_action_filters=POSE_FILTERS["v2"], appearance_action_filters=256,
                 pose_input="estimated", context_maps=0, context_alpha=0.8,
                 attention_maps="estimated", **kwargs):
        super().__init__(**kwargs)
        if parts not in PARTS:
            raise ValueError(f"parts is one of {PARTS}, got {parts!r}")
        if input_size % 32:
            raise ValueError(f"input_size must be divisible by 32 (stem /8, blocks /4), "
                             f"got {input_size}")
        if pose_dim not in (2, 3):
            raise ValueError(f"pose_dim is 2 or 3, got {pose_dim}")
        if pose_blocks < 1 or (parts != "pose" and action_blocks < 1):
            raise ValueError("pose_blocks and action_blocks must be at least 1")
        if context_maps < 0 or not 0 <= context_alpha <= 1:
            raise ValueError(f"context_maps is >= 0 and context_alpha in [0, 1], got "
                             f"{context_maps}, {context_alpha}")
        if context_maps and parts != "pose" and pose_dim != 2:
            raise ValueError("context_maps: the 2D model predicts no depth; its pose stream reads "
                             "pose_dim 2")
        for key, value in (("pose_input", pose_input), ("attention_maps", attention_maps)):
            if value not in POSE_INPUTS:
                raise ValueError(f"{key} is one of {POSE_INPUTS}, got {value!r}")
        self.pose_input, self.attention_maps = pose_input, attention_maps
        self.parts = parts
        self.pose_blocks = pose_blocks
        self.action_blocks = action_blocks
        self.pose_dim = pose_dim
        with self.name_scope():
            self.stem = MultitaskStem(width, prefix="stem_")
            channels = self.stem.out_channels
            self.blocks = nn.HybridSequential(prefix="block")
            with self.blocks.name_scope():
                for k in range(pose_blocks):
                    self.blocks.add(PredictionBlock(channels, num_joints, depth_bins, kernel_size,
                                                    last=k == pose_blocks - 1, context=context_maps,
                                                    context_alpha=context_alpha,
                                                    prefix=f"{k + 1}_"))
            if parts == "pose+action":
                self.appearance = AppearanceFeatures(prefix="appearance_features_")
                self.pose_action = ActionRecognition("pose", pose_dim, num_actions,
                                                     action_blocks, pose_action_filters,
                                                     prefix="pose_action_")
                self.appearance_action = ActionRecognition("appearance", channels, num_actions,
                                                           action_blocks,
                                                           appearance_action_filters,
                                                           prefix="appearance_action_")
                self.aggregation = ActionAggregation(num_actions, prefix="aggregation_")

    @property
    def reads_poses(self):
        """Whether the forward takes the clip's annotated ``poses`` (pose_input or
        attention_maps "annotated")."""
        return self.parts == "pose+action" and "annotated" in (self.pose_input,
                                                                self.attention_maps)

    @property
    def output_names(self):
        names = [f"{kind}{k + 1}" for k in range(self.pose_blocks) for kind in ("pose", "visible")]
        if self.parts == "pose+action":
            for stream in ("pose_action", "appearance_action"):
                names += [f"{stream}{b + 1}" for b in range(self.action_blocks)]
            names.append("action")
        return names

    def pose_part(self):
        """The blocks of the pose model inside the multitask one (stem and prediction blocks):
        what a trained pose checkpoint initialises, by name (``POSE_PART``)."""
        return [self.stem, self.blocks]

    def freeze_pose(self):
        """Appendix B's first action stage, "a pre-trained pose estimation model with weights
        initially frozen": the pose part's parameters get grad_req null and its batch norm runs
        on its running statistics (a frozen layer also keeps its statistics, so the action
        streams read exactly the trained pose model's outputs). Call before the first forward
        (hybridize caches the graph)."""
        for block in self.pose_part():
            for param in block.collect_params().values():
                param.grad_req = "null"
            block.apply(_use_running_statistics)

    def stages(self):
        """(name, blocks) rows in execution order, for ``symbols.summary``."""
        rows = [("stem", [self.stem])]
        rows += [(f"block{k + 1}", [b]) for k, b in enumerate(self.blocks)]
        if self.parts == "pose+action":
            rows += [("appearance", [self.appearance]), ("pose_act", [self.pose_action]),
                     ("app_act", [self.appearance_action]), ("aggregate", [self.aggregation])]
        return rows

    def _pose_blocks(self, x):
        """Frames (B, 3, H, W) -> every prediction block's (pose, visible, prob, multires)."""
        x = self.stem(x)  # (B, C, H/8, W/8)
        outs = []
        for block in self.blocks:
            out = block(x)
            outs.append(out[:4])
            if not block.last:
                x = out[4]
        return outs

    def predict_pose(self, frames):
        """Frames (B, 3, H, W) -> the last block's pose (B, J, 3) and visibility (B, J): the pose
        part alone, for the initial prediction of Sec. 5.2 on whole frames (NDArray in, out)."""
        pose, visible = self._pose_blocks(frames)[-1][:2]
        return pose, visible

    def hybrid_forward(self, F, x, poses=None):
        clip = self.parts == "pose+action"
        if clip:  # time-distributed: every frame through the pose model
            frames = F.transpose(x, axes=(0, 2, 1, 3, 4))  # (N, 3, T, H, W) -> (N, T, 3, H, W)
            x = F.reshape(frames, shape=(-3, -2))  # -> (N*T, 3, H, W)
        outputs = []
        for k, (pose, visible, prob, multires) in enumerate(self._pose_blocks(x)):
            if k == 0:
                features = multires  # visual features for the appearance stream
            if clip:  # (N*T, J, 3) -> (N, T, J, 3), (N*T, J) -> (N, T, J)
                pose = F.reshape_like(pose, frames, lhs_begin=0, lhs_end=1, rhs_begin=0,
                                      rhs_end=2)
                visible = F.reshape_like(visible, frames, lhs_begin=0, lhs_end=1, rhs_begin=0,
                                         rhs_end=2)
            outputs += [pose, visible]
        if not clip:
            return tuple(outputs)

        if self.reads_poses and poses is None:
            raise ValueError("pose_input / attention_maps annotated: the forward takes the "
                             "clip's poses")
        if self.pose_input == "annotated":  # (N, T, J, 4): the annotation's x, y, z, weight
            pose = F.slice_axis(poses, axis=-1, begin=0, end=3)
            visible = F.squeeze(F.slice_axis(poses, axis=-1, begin=3, end=4), axis=-1)
        if self.attention_maps == "annotated":  # (N, T, J, 4) -> (N*T, J, H, W)
            prob = joint_maps(F, F.reshape(poses, shape=(-3, -2)), prob)
        coords = F.slice_axis(pose, axis=-1, begin=0, end=self.pose_dim)  # (N, T, J, D)
        coords = F.transpose(coords, axes=(0, 3, 1, 2))  # -> (N, D, T, J)
        weight = F.expand_dims(visible, axis=1)  # (N, 1, T, J)
        *pose_logits, pose_maps = self.pose_action(coords, weight)
        appearance = self.appearance(prob, features, frames)  # (N, C, T, J)
        *appearance_logits, appearance_maps = self.appearance_action(appearance)
        action = self.aggregation(pose_maps, appearance_maps)
        return tuple(outputs + pose_logits + appearance_logits + [action])

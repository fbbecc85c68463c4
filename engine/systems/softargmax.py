"""Luvizon et al.'s soft-argmax multitask model as a task (2D/3D pose and action, end to end;
Appendix B's stages): the peer of engine/systems/action_machine.py, with the same functions.
``engine.systems`` picks this module for the model family "multitask" of symbols.MODELS. The
video task's work is in engine/systems/multitask.py; the pose task's in engine/pose_experiment.py.
"""
import mxnet as mx

from engine.experiment import (
    build_with,
    check_multitask_config,
    check_training_inputs,
    checked_multitask,
    multitask_clips,
    multitask_options,
)
from engine.systems import multitask
from engine.systems.multitask import evaluate_multitask, multitask_test_data, train_multitask
from engine.pose_experiment import softargmax_pose_model
from symbols.multitask.elastic_net_loss import ElasticNetPoseLoss

READS_COCO = False  # the soft-argmax models train on frames with 3D ground truth or real sets


def check_config(cfg):
    """The keys a multitask video config cannot combine, refused before any work."""
    check_multitask_config(cfg)


def build_model(cfg, ctx):
    """The config's multitask model on ``ctx`` (a list of contexts), initial weights."""
    return build_with(cfg, ctx, multitask_options(cfg))


def checked_against_checkpoint(cfg, saved, ckpt):
    return checked_multitask(cfg, saved, ckpt)


def loaded_model(cfg, ctx, ckpt, log):
    """The network with ``ckpt``'s weights, run in eval.dtype."""
    return multitask.loaded_model(cfg, ctx, ckpt, log)


def training_clips(cfg):
    return multitask.training_clips(cfg)


def training_data(cfg, samples):
    """The training clips of ``samples`` (their poses come from the annotations)."""
    check_training_inputs(cfg, samples, with_poses=False)
    return multitask_clips(cfg, samples, "train")


def train(cfg, ctxs, log, dataset, resume_run=False):
    return train_multitask(cfg, ctxs, log, dataset, resume_run)


def test_data(cfg, skip_unreadable=False):
    """-> (the test clips, None: no cross-dataset class mapping)."""
    return multitask_test_data(cfg, skip_unreadable), None


def evaluate(cfg, ctxs, log, ckpt, data, mapping=None):
    return evaluate_multitask(cfg, ctxs, log, ckpt, data)


# ---- the pose part (train_pose.py with a soft-argmax config) ------------------------------------
def build_pose_model(cfg, ctxs):
    return softargmax_pose_model(cfg, ctxs)


def pose_loss_fn(cfg, net):
    return softargmax_loss(ElasticNetPoseLoss(cfg["train"]["visibility_weight"]), net.pose_blocks)


def softargmax_loss(criterion, blocks):
    """(net, image, target (n, J, 3), mask (n, J, 3), visibility (n, J)) -> the sum over the
    K blocks of each block's elastic-net loss (n,), and the last block's alone."""
    def loss_fn(net, image, target, mask, visibility):
        outputs = net(image)  # pose1 (n, J, 3), visible1 (n, J), ..., poseK, visibleK
        losses = [criterion(outputs[2 * k], outputs[2 * k + 1], target, mask, visibility)
                  for k in range(blocks)]
        total = mx.nd.add_n(*losses)
        return total, {"loss_pose": total, f"loss_block{blocks}": losses[-1]}
    return loss_fn

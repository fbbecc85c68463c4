"""The training items and batches, named once.

Each training dataset returns one of the items below; the loader (``data.loader.make_loader``)
stacks a batch of them into the same named tuple, each field gaining a leading N; the training
loop (``engine.training.loop``) splits every field over the devices and calls the run's loss as
``loss_fn(net, **fields)``, so a loss names what it takes (``def loss_fn(net, clip, label, heat,
offsets, weight)``) and no order is written twice.

``Substituted`` is what ``data.loader.Substitutes`` returns: the item, and whether an unreadable
sample was replaced to give it (the training loop counts these, ``train.max_unreadable``).
"""
import collections

from mxnet import gluon

# Action Machine's video clips (data/loader.py): clip (3, T, S, S), label (), and the pose
# head's targets per frame: heat (T, K, H, W), offsets (T, K, 2, H, W), weight (T, K)
ClipItem = collections.namedtuple("ClipItem", "clip label heat offsets weight")
# The 2D pose model's COCO crops (data/coco.py): image (3, H, W) and the same three targets
HeatmapItem = collections.namedtuple("HeatmapItem", "image heat offsets weight")
# Luvizon et al.'s action clips (data/multitask/clips.py): clip, label, and the soft-argmax
# pose targets per frame: target (T, J, 3), mask (T, J, 3), visibility (T, J)
MultitaskClipItem = collections.namedtuple("MultitaskClipItem",
                                           "clip label target mask visibility")
# Luvizon et al.'s pose frames (data/multitask/pose_frames.py, pose_images.py): image (3, S, S),
# target (J, 3), mask (J, 3), visibility (J,)
PoseItem = collections.namedtuple("PoseItem", "image target mask visibility")
# Stage 2's kept keypoints (engine/systems/pose_draws.py): the pose CNN's input (3, T, K), label
PoseCNNItem = collections.namedtuple("PoseCNNItem", "poses label")
Substituted = collections.namedtuple("Substituted", "item unreadable")


class Batchify:
    """Stacks samples into a batch, keeping named tuples named (Gluon's own batchify returns
    plain lists); each field is stacked by Gluon's batchify, into shared memory when loader
    ``workers`` produce it."""

    def __init__(self, workers=0):
        self.workers = workers

    def __call__(self, samples):
        first = samples[0]
        if isinstance(first, tuple) and hasattr(first, "_fields"):
            return type(first)(*(self(list(field)) for field in zip(*samples)))
        if self.workers:
            return gluon.data.dataloader.default_mp_batchify_fn(samples)
        return gluon.data.dataloader.default_batchify_fn(samples)

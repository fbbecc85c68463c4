"""Stage 2 on kept keypoints (``train.pose_cnn_draws``).

In stage 2 the KPS RGBAction model is frozen and the arg-max decoder passes no gradient, so the
pose CNN's input for a training clip is a fixed function of that clip. With N draws, the frozen
model runs once over the training clips of epochs 0 to N-1 (the clips those epochs draw: the same
loader, seed and augmentation), their pose-CNN inputs are kept in memory, and epoch e of the pose
CNN's training reads those of epoch e mod N, shuffled again. The pose CNN can then train for many
more epochs than the frozen model runs: it is the one part that learns, from random weights. A
resumed run draws again (the same clips), then goes on from its checkpoint.
"""
import time

import numpy as np
from mxnet import autograd, gluon

from data.batch import PoseCNNItem, Substituted
from data.loader import overlapped
from engine.training.loop import check_unreadable, epoch_loader


class KeypointDraws(gluon.data.Dataset):
    """Kept pose-CNN inputs ``poses`` (N, n, 3, T, K) and ``labels`` (N, n): the items of
    epoch e are draw e mod N's (``set_epoch``), each ``Substituted(PoseCNNItem, 0)`` as the
    training loop reads them (an unreadable clip was replaced, and counted, when drawn)."""

    def __init__(self, poses, labels):
        if poses.shape[:2] != labels.shape or not len(poses):
            raise ValueError(f"draws of poses {poses.shape} and labels {labels.shape} differ")
        self.poses, self.labels = poses, labels
        self.draw = 0

    def set_epoch(self, epoch):
        self.draw = epoch % len(self.poses)

    def __len__(self):
        return self.poses.shape[1]

    def __getitem__(self, i):
        return Substituted(PoseCNNItem(self.poses[self.draw, i], self.labels[self.draw, i]),
                           np.int32(0))


def draw_keypoints(net, dataset, cfg, ctx, draws, log):
    """The frozen model's pose-CNN inputs for the training clips of epochs 0 .. ``draws`` - 1
    (``dataset``: the stage's training clips, as ``fit`` reads them) -> ``KeypointDraws``."""
    def queue(item):  # the frozen model's forward pass, not waited for
        batch, bad = item
        with autograd.pause(train_mode=False):
            return net.before_pose_cnn(batch.clip.as_in_context(ctx))[1], batch.label, bad

    poses, labels = [], []
    for epoch in range(draws):
        tic, kept, kept_labels, unreadable = time.time(), [], [], 0
        for x, label, bad in overlapped(epoch_loader(dataset, cfg, epoch), queue):
            kept.append(x.asnumpy())
            kept_labels.append(label.asnumpy())
            unreadable += int(bad.sum().asscalar())
            check_unreadable(unreadable, len(dataset), cfg["train"]["max_unreadable"], epoch)
        poses.append(np.concatenate(kept))
        labels.append(np.concatenate(kept_labels))
        log.info("stage 2: keypoints of epoch %d/%d's %d clips kept (%.1f s, %d unreadable "
                 "replaced)", epoch + 1, draws, len(poses[-1]), time.time() - tic, unreadable)
    return KeypointDraws(np.stack(poses).astype(np.float32), np.stack(labels).astype(np.int32))

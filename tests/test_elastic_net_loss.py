"""The pose loss (Luvizon et al. 2018, Eq. 3 + visibility BCE): a hand-computed value, and masks
that remove joints and coordinates from both the value and the gradient."""
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from symbols.multitask.elastic_net_loss import ElasticNetPoseLoss

PRED = [[[0.5, 0.5, 0.5], [0.2, 0.4, 0.9]]]  # (N=1, J=2, 3)
VISIBLE = [[0.8, 0.3]]


def loss_and_grads(pose, visible, target, mask, visible_target, hybridize=False):
    criterion = ElasticNetPoseLoss()
    if hybridize:
        criterion.hybridize()
    pose, visible = mx.nd.array(pose), mx.nd.array(visible)
    pose.attach_grad()
    visible.attach_grad()
    with autograd.record():
        loss = criterion(pose, visible, mx.nd.array(target), mx.nd.array(mask),
                         mx.nd.array(visible_target))
    loss.backward()
    return loss.asnumpy(), pose.grad.asnumpy(), visible.grad.asnumpy()


@pytest.mark.parametrize("hybridize", [False, True])
def test_two_joint_example_by_hand(hybridize):
    target = [[[0.7, 0.2, 0.5], [0.1, 0.4, np.nan]]]  # joint 1 has no z (a 2D label)
    loss, gpose, gvis = loss_and_grads(PRED, VISIBLE, target, np.ones((1, 2, 3)), [[1, 0]],
                                       hybridize)
    # joint 0: d = (-0.2, 0.3, 0): |d|_1 = 0.5, |d|_2^2 = 0.13; joint 1: d = (0.1, 0, -): 0.11
    pose_term = (0.5 + 0.13 + 0.1 + 0.01) / 2
    vis_term = 0.01 * (-math.log(0.8) - math.log(1 - 0.3)) / 2
    np.testing.assert_allclose(loss, [pose_term + vis_term], rtol=1e-6)
    # d/dp (|d| + d^2) / N_J = (sign(d) + 2d) / 2; zero on z of joint 1 and where d = 0
    want = np.array([[[(-1 - 0.4) / 2, (1 + 0.6) / 2, 0.0], [(1 + 0.2) / 2, 0.0, 0.0]]])
    np.testing.assert_allclose(gpose, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gvis, [[0.01 * -1 / 0.8 / 2, 0.01 * 1 / 0.7 / 2]], rtol=1e-5)


def test_masked_targets_change_neither_loss_nor_gradient():
    rng = np.random.RandomState(0)
    pose, visible = rng.uniform(size=(3, 4, 3)), rng.uniform(0.1, 0.9, size=(3, 4))
    target, vt = rng.uniform(size=(3, 4, 3)), rng.randint(0, 2, size=(3, 4)).astype(float)
    mask = np.ones((3, 4, 3))
    mask[0, :, 2] = 0  # sample 0 is 2D-only: no z anywhere
    mask[1, 2] = 0  # sample 1 lacks joint 2 ...
    vt[1, 2] = np.nan  # ... including its visibility
    base = loss_and_grads(pose, visible, target, mask, vt)
    changed = target.copy()
    changed[0, :, 2] = rng.uniform(size=4)
    changed[1, 2] = [np.nan, 7.0, -3.0]
    again = loss_and_grads(pose, visible, changed, mask, vt)
    for a, b in zip(base, again):
        np.testing.assert_array_equal(a, b)
    _, gpose, gvis = base
    assert (gpose[0, :, 2] == 0).all() and (gpose[1, 2] == 0).all() and gvis[1, 2] == 0
    assert (gpose[2] != 0).all()  # unmasked coordinates do train
    # and a change of an unmasked target does change the loss
    changed[2, 0, 0] += 0.1
    assert loss_and_grads(pose, visible, changed, mask, vt)[0][2] != base[0][2]


def test_a_missing_joint_does_not_count_in_the_mean():
    """Eq. (3) averages over the joints present: with joint 1 missing the loss is joint 0's."""
    target = [[[0.7, 0.2, 0.5], [np.nan, np.nan, np.nan]]]
    both = loss_and_grads(PRED, VISIBLE, target, np.ones((1, 2, 3)), [[1, np.nan]])[0]
    alone = loss_and_grads([PRED[0][:1]], [VISIBLE[0][:1]], [target[0][:1]],
                           np.ones((1, 1, 3)), [[1]])[0]
    np.testing.assert_allclose(both, alone, rtol=1e-6)


def test_clip_layout_gives_a_loss_per_frame():
    rng = np.random.RandomState(1)
    shape = (2, 5, 4)  # (N, T, J)
    loss, _, _ = loss_and_grads(rng.uniform(size=shape + (3,)), rng.uniform(0.1, 0.9, shape),
                                rng.uniform(size=shape + (3,)), np.ones(shape + (3,)),
                                np.ones(shape))
    assert loss.shape == (2, 5) and np.isfinite(loss).all()


@pytest.mark.parametrize("outside", ["drop", "keep"])
def test_a_joint_outside_the_crop_gives_no_coordinate_gradient_when_dropped(outside):
    """Targets from data.multitask.pose_frames.targets: a wrist 20 px past the crop's edge. With
    "drop" its predicted x, y, z get no gradient and the loss is the other joints' mean alone
    (NumPy); with "keep" its coordinates are pulled toward a target outside [0, 1]."""
    from data.multitask import pose_frames as PF
    size, J = 64, 4
    kps = np.array([[20.0, 30.0, 2], [40.0, 35.0, 2], [84.0, 10.0, 2], [30.0, 50.0, 2]])
    depth = np.array([5000.0, 5100.0, 4900.0, 5050.0])
    target, mask, vis = PF.targets(kps, depth, 5000.0, size, outside=outside)
    rng = np.random.RandomState(0)
    pose = mx.nd.array(rng.uniform(0.2, 0.8, (1, J, 3)))
    visible = mx.nd.array(rng.uniform(0.2, 0.8, (1, J)))
    pose.attach_grad()
    with autograd.record():
        loss = ElasticNetPoseLoss(0.0)(pose, visible, mx.nd.array(target[None]),
                                       mx.nd.array(mask[None]), mx.nd.array(vis[None]))
    loss.backward()
    grad = pose.grad.asnumpy()[0]
    p = pose.asnumpy()[0]
    trained = [0, 1, 3] if outside == "drop" else [0, 1, 2, 3]
    d = p[trained] - target[trained]
    expected = (np.abs(d) + d ** 2).sum() / len(trained)
    assert loss.asscalar() == pytest.approx(expected, rel=1e-5)
    if outside == "drop":
        assert vis[2] == 0 and np.all(grad[2] == 0)
    else:
        assert target[2, 0] > 1 and grad[2, 0] < 0  # descent raises x toward the edge
    assert np.all(grad[[0, 1, 3]] != 0)

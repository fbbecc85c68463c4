"""Soft-argmax (Luvizon et al. 2018, Eq. 2 and Sec. 3.2): the layers against the NumPy reference,
hand-known maps, finite differences, and Action Machine's arg-max decoder."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from symbols.pose_decoder import decode_pose_maps
from symbols.softargmax import (
    ContextSoftArgmax,
    SoftArgmax,
    SoftArgmaxKeypoints,
    context_soft_argmax,
    soft_argmax,
    soft_argmax_keypoints,
)


def run(block, *arrays, hybridize=False, dtype="float64"):
    if hybridize:
        block.hybridize()
    outs = block(*(mx.nd.array(a, dtype=dtype) for a in arrays))
    outs = outs if isinstance(outs, (tuple, list)) else [outs]
    return [o.asnumpy() for o in outs]


@pytest.mark.parametrize("hybridize", [False, True])
def test_layer_equals_numpy_reference_on_random_maps(hybridize):
    heat = np.random.RandomState(0).randn(2, 4 * 3, 5, 7) * 3  # Nd = 4, J = 3, H = 5, W = 7
    got = run(SoftArgmax(4), heat, hybridize=hybridize)
    for g, want in zip(got, soft_argmax(heat, 4)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
    assert [g.shape for g in got] == [(2, 3, 3), (2, 3), (2, 3, 5, 7)]


def test_one_hot_maps_give_the_cell_and_the_depth_bin():
    nd, J, H, W = 4, 2, 5, 7
    vol = np.zeros((1, nd, J, H, W))
    vol[0, :, 0, 3, 6] = 60.0  # joint 0 at row 3, column 6 in every depth map
    vol[0, :, 1, 0, 2] = 60.0  # joint 1 at row 0, column 2
    vol[0, 2, 0] += 60.0  # joint 0 in depth bin 2 (a constant over space: x, y unchanged)
    vol[0, 1, 1] += 60.0  # joint 1 in depth bin 1
    heat = vol.reshape(1, nd * J, H, W)  # channel d * J + j (cvpr18 layout)
    pose, visible, prob = run(SoftArgmax(nd), heat)
    want = [[6 / (W - 1), 3 / (H - 1), 2 / (nd - 1)], [2 / (W - 1), 0.0, 1 / (nd - 1)]]
    np.testing.assert_allclose(pose[0], want, atol=1e-9)
    assert prob[0, 0, 3, 6] > 1 - 1e-9 and prob[0, 1, 0, 2] > 1 - 1e-9
    np.testing.assert_allclose(pose, soft_argmax(heat, nd)[0], atol=1e-12)
    assert (visible > 0.999).all()


def test_flat_maps_give_the_centre_and_even_visibility():
    pose, visible, prob = run(SoftArgmax(3), np.zeros((2, 3 * 4, 6, 9)))
    np.testing.assert_allclose(pose, 0.5, atol=1e-12)
    np.testing.assert_allclose(visible, 0.5, atol=1e-12)  # sigmoid(0 + 0)
    np.testing.assert_allclose(prob, 1 / 54, atol=1e-12)


def test_single_depth_bin_gives_z_zero():
    """linspace(0, 1, 1) = [0]: with Nd = 1 the model is 2D and z is 0."""
    pose, _, _ = run(SoftArgmax(1), np.random.RandomState(1).randn(1, 3, 4, 4))
    np.testing.assert_array_equal(pose[..., 2], 0.0)


def test_gradients_match_finite_differences():
    rng = np.random.RandomState(2)
    heat = rng.randn(1, 3 * 2, 3, 4)  # Nd = 3, J = 2
    wp, wv = rng.randn(1, 2, 3), rng.randn(1, 2)  # a random linear read-out of the outputs
    layer = SoftArgmax(3)

    def objective(h):
        pose, visible, _ = soft_argmax(h, 3)
        return (pose * wp).sum() + (visible * wv).sum()

    x = mx.nd.array(heat, dtype="float64")
    x.attach_grad()
    with autograd.record():
        pose, visible, _ = layer(x)
        out = (pose * mx.nd.array(wp, dtype="float64")).sum() + \
            (visible * mx.nd.array(wv, dtype="float64")).sum()
    out.backward()
    numeric = np.zeros_like(heat)
    eps = 1e-6
    for i in np.ndindex(heat.shape):
        up, down = heat.copy(), heat.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (objective(up) - objective(down)) / (2 * eps)
    # Only the max cell of each map has a visibility gradient; ties are absent for random maps.
    np.testing.assert_allclose(x.grad.asnumpy(), numeric, rtol=1e-5, atol=1e-8)
    assert np.abs(numeric).min() > 0  # every logit moves the output: a real check


@pytest.mark.parametrize("hybridize", [False, True])
def test_keypoints_equal_reference_and_are_differentiable(hybridize):
    heat = np.random.RandomState(3).randn(2, 3, 4, 6, 5) * 2  # (N, T, K, H, W)
    layer = SoftArgmaxKeypoints(stride=8, input_size=(48, 40))
    if hybridize:
        layer.hybridize()
    x = mx.nd.array(heat)
    x.attach_grad()
    with autograd.record():
        kps = layer(x)
        loss = kps.sum()
    loss.backward()
    assert kps.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(kps.asnumpy(), soft_argmax_keypoints(heat, 8, (48, 40)),
                               rtol=1e-5, atol=1e-6)
    assert np.abs(x.grad.asnumpy()).sum() > 0  # no BlockGrad: gradients reach the heat maps


def test_keypoints_on_peaked_maps_equal_action_machine_decoder():
    """On one-hot maps the soft-argmax lands where the arg-max decoder (zero offsets) does, on the
    same pixel grid, with the same ReLU confidence."""
    rng = np.random.RandomState(4)
    heat = np.full((2, 3, 4, 7, 6), -40.0)
    for idx in np.ndindex(2, 3, 4):
        heat[idx][rng.randint(7), rng.randint(6)] = 8.0
    layer = SoftArgmaxKeypoints(stride=8, confidence="relu")
    got = layer(mx.nd.array(heat)).asnumpy()
    want = decode_pose_maps(heat, np.zeros((2, 3, 4, 2, 7, 6)), 8, 1.0, confidence="relu")
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_keypoints_reject_unknown_confidence():
    with pytest.raises(ValueError, match="sigmoid or relu"):
        SoftArgmaxKeypoints(8, confidence="softplus")


# ---- ref. [28]'s 2D regression with context maps (ContextSoftArgmax) ----------------------------
@pytest.mark.parametrize("hybridize", [False, True])
def test_context_layer_equals_numpy_reference_on_random_maps(hybridize):
    J, C, H, W = 3, 2, 5, 7
    heat = np.random.RandomState(1).randn(2, (1 + C) * J, H, W) * 3
    got = run(ContextSoftArgmax(J, C, 0.8), heat, hybridize=hybridize)
    for g, want in zip(got, context_soft_argmax(heat, J, C, 0.8)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)
    assert [g.shape for g in got] == [(2, J, 3), (2, J), (2, J, H, W)]


def test_context_maps_aggregate_by_their_probabilities_by_hand():
    """One-hot maps: joint 0's sharp map at (col 6, row 4); its two context maps at (0, 0) and
    (4, 2) with maxima 0 and ln 3 (probabilities 1/2 and 3/4); joint 1's sharp map (channel 1)
    at (2, 1) and its context maps (channels 4, 5) both at (2, 3)."""
    J, C, H, W = 2, 2, 5, 7
    heat = np.full((1, (1 + C) * J, H, W), -60.0)
    heat[0, 0, 4, 6] = 0.0
    heat[0, 1, 1, 2] = 2.0
    heat[0, 2, 0, 0] = 0.0  # joint 0, context 0
    heat[0, 3, 2, 4] = np.log(3)  # joint 0, context 1
    heat[0, 4, 3, 2] = heat[0, 5, 3, 2] = 1.0  # joint 1's two context maps
    pose, visible, prob = run(ContextSoftArgmax(J, C, 0.8), heat)
    ctx0 = (0.5 * np.array([0, 0]) + 0.75 * np.array([4 / 6, 2 / 4])) / 1.25
    want0 = 0.8 * np.array([1.0, 1.0]) + 0.2 * ctx0
    want1 = 0.8 * np.array([2 / 6, 1 / 4]) + 0.2 * np.array([2 / 6, 3 / 4])
    np.testing.assert_allclose(pose[0, :, :2], [want0, want1], atol=1e-9)
    assert (pose[..., 2] == 0.5).all()  # no depth: the middle of the range
    np.testing.assert_allclose(visible[0], 1 / (1 + np.exp([-0.0, -2.0])), atol=1e-12)
    assert prob[0, 0, 4, 6] > 1 - 1e-9 and prob[0, 1, 1, 2] > 1 - 1e-9


def test_context_gradients_match_finite_differences():
    J, C = 2, 2
    heat = np.random.RandomState(2).randn(1, (1 + C) * J, 4, 5)
    weights = np.random.RandomState(3).randn(1, J, 2)
    x = mx.nd.array(heat, dtype="float64")
    x.attach_grad()
    with autograd.record():
        pose = ContextSoftArgmax(J, C, 0.8)(x)[0]
        loss = (pose[:, :, :2] * mx.nd.array(weights, dtype="float64")).sum()
    loss.backward()

    def f(h):
        return (context_soft_argmax(h, J, C, 0.8)[0][:, :, :2] * weights).sum()
    numeric = np.zeros_like(heat)
    for i in np.ndindex(heat.shape):
        step = np.zeros_like(heat)
        step[i] = 1e-6
        numeric[i] = (f(heat + step) - f(heat - step)) / 2e-6
    np.testing.assert_allclose(x.grad.asnumpy(), numeric, rtol=1e-5, atol=1e-8)

"""symbols/cam.py: class activation maps of the RGB head, their upsampling, and the CAM mass
shares, against hand computations."""
import math

import mxnet as mx
import numpy as np

from engine.views.cam import box_in_crop
from symbols import get_model
from symbols.cam import cam_mass, class_activation_maps, features_and_weights, upsample


def test_cam_of_the_linear_head_is_the_hand_computation_and_averages_to_the_logits():
    net = get_model("action_machine_tiny", heads=("rgb",))
    clips = mx.nd.array(np.random.RandomState(0).normal(0, 1, (2, 3, 4, 64, 64)))
    logits = net(clips)[0].asnumpy()  # not recording: dropout is the identity
    features, weight, bias = features_and_weights(net, clips)
    # By hand: the backbone's output and the FC parameter, then sum_k w_ck f_k(t, y, x).
    f = net.backbone(clips).asnumpy()  # (N, C, T, h, w)
    w = net.rgb_head.fc.weight.data().asnumpy()  # (n, C)
    assert f.shape == (2, 256, 4, 2, 2) and np.array_equal(features, f)
    assert np.array_equal(weight, w)
    classes = [3, 7]
    by_hand = np.zeros((2, 4, 2, 2))
    for n, c in enumerate(classes):
        for k in range(f.shape[1]):
            by_hand[n] += w[c, k] * f[n, k]
    cams = class_activation_maps(features, weight, classes)
    np.testing.assert_allclose(cams, by_hand, rtol=1e-5, atol=1e-6)
    # Zhou et al.: global average pooling makes the logit the CAM's mean plus the bias.
    every = class_activation_maps(features, weight, [list(range(10))] * 2)  # (N, n, T, h, w)
    np.testing.assert_allclose(every.mean(axis=(2, 3, 4)) + bias, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(every[np.arange(2), classes], cams, rtol=1e-6)


def test_upsampling_puts_each_cell_at_the_centre_of_its_pixels():
    cam = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)  # cells of 32 x 32 input pixels
    up = upsample(cam[None], 64)[0]
    assert up.shape == (64, 64)
    assert np.all(up[:, :16] == 0) and np.all(up[:, 48:] == 1)  # beyond the cell centres
    np.testing.assert_allclose(up[:, 31] + up[:, 32], 1.0, atol=1e-6)  # symmetric about 31.5
    assert np.all(np.diff(up[0]) >= 0)
    assert upsample(np.ones((3, 4, 2, 2)), 64).shape == (3, 4, 64, 64)


def test_cam_mass_by_hand():
    cam = np.array([[1, 1, 0, -5],
                    [1, 1, 0, 0],
                    [0, 0, 0, 2],
                    [0, 0, 0, 1]], np.float32)  # positive mass 7; the -5 is not mass
    person = (-0.5, -0.5, 1.5, 1.5)  # pixel centres 0 and 1: the four ones
    obj = (2.6, 1.6, 3.4, 3.4)  # pixel centre x 3, y 2 and 3: the 2 and the 1
    assert cam_mass(cam, person, obj) == (4 / 7, 3 / 7)
    # One box a frame: in frame 2 the person box moved off the ones.
    frames = np.stack([cam, cam])
    person_boxes = np.array([person, (1.6, -0.5, 3.4, 0.4)])
    p, o = cam_mass(frames, person_boxes, obj)
    assert math.isclose(p, 4 / 14) and math.isclose(o, 6 / 14)
    assert all(math.isnan(v) for v in cam_mass(-np.ones((4, 4)), person, obj))


def test_a_box_in_crop_pixels():
    crop = np.array([10.0, 20.0, 74.0, 84.0])  # 64 frame pixels onto a 32 px crop
    np.testing.assert_allclose(box_in_crop(crop, crop, 32), [-0.5, -0.5, 31.5, 31.5], atol=1e-5)
    inner = box_in_crop([[42.0, 52.0, 74.0, 84.0]], crop, 32)  # (1, 4): the lower-right quarter
    np.testing.assert_allclose(inner, [[15.5, 15.5, 31.5, 31.5]], atol=1e-5)

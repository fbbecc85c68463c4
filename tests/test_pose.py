"""Pose targets, decoding, flips and the pose loss, checked against NumPy and hand-made cases."""
import mxnet as mx
import numpy as np
import pytest

from data.keypoints import FLIP_PAIRS, flip_keypoints, flip_pose_maps
from data.pose_targets import cell_centres, disk_radius, encode_clip, encode_pose
from symbols.pose_decoder import KeypointDecoder
from symbols.pose_loss import PoseLoss

SIZE, STRIDE = 224, 8
HM = SIZE // STRIDE
M = disk_radius(SIZE)


def random_keypoints(n, k=17, rng=np.random):
    kps = np.zeros((n, k, 3), np.float32)
    kps[..., :2] = rng.uniform(0, SIZE - 1, size=(n, k, 2))
    kps[..., 2] = 1
    return kps


def decode(heat, offsets, input_size=None):
    """Targets as network outputs: a confident logit inside the disk, a negative one outside."""
    dec = KeypointDecoder(STRIDE, M, input_size=input_size)
    logits = mx.nd.array(heat * 20.0 - 10.0)
    return dec(logits, mx.nd.array(offsets)).asnumpy()


def test_radius_follows_grmi_ruling():
    assert disk_radius(353) == pytest.approx(25.0)
    assert disk_radius(224) == pytest.approx(25.0 * 224 / 353)


def test_every_keypoint_in_the_crop_has_a_positive_cell_at_small_sizes():
    m = disk_radius(64, stride=8)
    assert m > disk_radius(64) and disk_radius(224, stride=8) == disk_radius(224)
    kps = random_keypoints(50)
    kps[..., :2] *= 63 / (SIZE - 1)
    heat, _, _ = encode_clip(kps, (8, 8), 8, m)
    assert (heat.sum(axis=(2, 3)) > 0).all()


def test_disk_heatmap_on_a_hand_made_case():
    # A keypoint exactly on cell (row 2, col 3)'s centre, radius of one stride: that cell and its
    # four neighbours, nothing else; offsets point back at the keypoint in units of the radius.
    x, y = cell_centres(8, 4)[3], cell_centres(8, 4)[2]
    heat, off, w = encode_pose([[x, y, 1]], (8, 8), stride=4, radius=4.0)
    assert sorted(zip(*np.nonzero(heat[0]))) == [(1, 3), (2, 2), (2, 3), (2, 4), (3, 3)]
    assert off[0, :, 2, 3].tolist() == [0, 0]
    assert off[0, :, 2, 4].tolist() == [-1, 0]  # the cell right of it: keypoint 1 radius left
    assert off[0, :, 1, 3].tolist() == [0, 1]
    assert w.tolist() == [1]


def test_unlabelled_keypoint_has_no_target():
    heat, off, w = encode_pose([[50, 50, 0], [50, 50, 2]], (HM, HM), STRIDE, M)
    assert w.tolist() == [0, 1]
    assert heat[0].sum() == 0 and off[0].any() == 0 and heat[1].sum() > 0


def test_encode_then_decode_returns_keypoints():
    kps = random_keypoints(5)
    heat, off, _ = encode_clip(kps, (HM, HM), STRIDE, M)
    out = decode(heat[None], off[None])[0]  # (T, K, 3)
    np.testing.assert_allclose(out[..., :2], kps[..., :2], atol=1e-3)
    assert (out[..., 2] > 0).all()
    normalised = decode(heat[None], off[None], input_size=(SIZE, SIZE))[0]
    np.testing.assert_allclose(normalised[..., :2], kps[..., :2] / SIZE, atol=1e-5)


def test_decoder_confidence_is_relu_of_max_logit():
    heat = np.full((1, 1, 2, HM, HM), -3.0, np.float32)
    heat[0, 0, 1, 4, 5] = 2.5
    out = KeypointDecoder(STRIDE, M)(mx.nd.array(heat), mx.nd.zeros((1, 1, 2, 2, HM, HM)))
    out = out.asnumpy()[0, 0]
    assert out[0, 2] == 0.0 and out[1, 2] == pytest.approx(2.5)
    assert out[1, :2].tolist() == [5 * STRIDE + 3.5, 4 * STRIDE + 3.5]


def test_mirrored_maps_decode_to_mirrored_keypoints():
    kps = random_keypoints(3)
    heat, off, _ = encode_clip(kps, (HM, HM), STRIDE, M)
    fheat, foff = flip_pose_maps(heat, off)
    out = decode(fheat[None], foff[None])[0]
    np.testing.assert_allclose(out[..., :2], flip_keypoints(kps, SIZE)[..., :2], atol=1e-3)


def test_flip_keypoints_swaps_left_and_right():
    kps = random_keypoints(1)[0]
    flipped = flip_keypoints(kps, SIZE)
    for a, b in FLIP_PAIRS:  # left_eye of the mirror is right_eye of the original, mirrored
        assert flipped[a, 0] == pytest.approx(SIZE - 1 - kps[b, 0])
        assert flipped[a, 1] == kps[b, 1]
    assert flipped[0, 0] == pytest.approx(SIZE - 1 - kps[0, 0])  # the nose stays the nose
    np.testing.assert_allclose(flip_keypoints(flipped, SIZE), kps, atol=1e-4)


def numpy_pose_loss(heat, off, ht, ot, w, heatmap_loss="smooth_l1"):
    def smooth_l1(d):
        a = np.abs(d)
        return np.where(a < 1, 0.5 * d ** 2, a - 0.5)
    K = heat.shape[2]
    prob = 1 / (1 + np.exp(-heat))
    if heatmap_loss == "logistic":
        prob = -(ht * np.log(prob) + (1 - ht) * np.log(1 - prob))  # cross-entropy per cell
    lh = np.zeros(heat.shape[0])
    lo = np.zeros(heat.shape[0])
    for n in range(heat.shape[0]):
        for t in range(heat.shape[1]):
            for k in range(K):
                cell = prob[n, t, k] if heatmap_loss == "logistic" else \
                    smooth_l1(prob[n, t, k] - ht[n, t, k])
                lh[n] += w[n, t, k] * cell.sum() / K
                inside = ht[n, t, k] > 0
                d = off[n, t, k][:, inside] - ot[n, t, k][:, inside]
                lo[n] += w[n, t, k] * smooth_l1(d).sum() / K
    T = heat.shape[1]
    return 0.5 * lh / T + 0.5 * lo / T, lh / T, lo / T


@pytest.mark.parametrize("heatmap_loss", ["smooth_l1", "logistic"])
def test_pose_loss_matches_numpy(heatmap_loss):
    N, T, K = 2, 3, 17
    kps = random_keypoints(N * T).reshape(N, T, K, 3)
    kps[0, 1, 4, 2] = 0  # one unlabelled keypoint
    targets = [encode_clip(k, (HM, HM), STRIDE, M) for k in kps]
    ht, ot, w = (np.stack(p) for p in zip(*targets))
    heat = np.random.normal(0, 2, size=ht.shape).astype(np.float32)
    off = np.random.normal(0, 1.5, size=ot.shape).astype(np.float32)
    got = PoseLoss(heatmap_loss=heatmap_loss)(*(mx.nd.array(a) for a in (heat, off, ht, ot, w)))
    for g, e in zip(got, numpy_pose_loss(heat, off, ht, ot, w, heatmap_loss)):
        np.testing.assert_allclose(g.asnumpy(), e, rtol=1e-4)


@pytest.mark.parametrize("stride,radius", [(8, 15.9), (4, 5.7)])
def test_the_network_decoder_equals_the_numpy_reference(stride, radius):
    from symbols.pose_decoder import decode_pose_maps
    rng = np.random.RandomState(stride)
    heat = rng.randn(2, 3, 17, 7, 9).astype(np.float32)  # (N, T, K, H, W), distinct maxima
    offsets = rng.randn(2, 3, 17, 2, 7, 9).astype(np.float32)
    block = KeypointDecoder(stride, radius)(mx.nd.array(heat), mx.nd.array(offsets)).asnumpy()
    reference = decode_pose_maps(heat, offsets, stride, radius, confidence="relu")
    np.testing.assert_allclose(block, reference, rtol=1e-5, atol=1e-4)
    # one joint by hand: the arg-max cell's centre plus its offset in units of the radius
    n, t, k = 1, 2, 5
    i, j = np.unravel_index(heat[n, t, k].argmax(), (7, 9))
    x = j * stride + (stride - 1) / 2 + offsets[n, t, k, 0, i, j] * radius
    y = i * stride + (stride - 1) / 2 + offsets[n, t, k, 1, i, j] * radius
    prob = decode_pose_maps(heat, offsets, stride, radius)[n, t, k]
    np.testing.assert_allclose(prob, [x, y, 1 / (1 + np.exp(-heat[n, t, k].max()))], rtol=1e-5)


def test_a_clip_encodes_as_its_frames_one_by_one():
    rng = np.random.RandomState(0)
    kps = rng.uniform(-10, 74, (8, 17, 3)).astype(np.float32)
    kps[..., 2] = rng.uniform(size=(8, 17)) > 0.3
    clip = encode_clip(kps, (8, 8), 8, 6.0)
    frames = [encode_pose(k, (8, 8), 8, 6.0) for k in kps]
    for part, per_frame in zip(clip, zip(*frames)):
        assert part.dtype == np.float32
        assert np.array_equal(part, np.stack(per_frame))

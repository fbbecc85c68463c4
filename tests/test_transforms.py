"""Clip geometry and frame sampling: pixels and keypoints go through the same transform."""
import numpy as np
import pytest

from data import transforms as T


def blob_frame(h, w, x, y, sigma=1.5):
    """A frame with one bright Gaussian blob centred at (x, y) (pixel centres at integers)."""
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2))
    return np.repeat((255 * g)[..., None], 3, axis=2).astype(np.uint8)


def centroid(image):
    g = image[..., 0].astype(np.float64)
    g = np.where(g > 0.3 * g.max(), g, 0)
    yy, xx = np.mgrid[0:g.shape[0], 0:g.shape[1]]
    return (xx * g).sum() / g.sum(), (yy * g).sum() / g.sum()


@pytest.mark.parametrize("seed", range(6))
def test_keypoint_lands_where_the_pixels_go(seed):
    rng = np.random.RandomState(seed)
    H, W, S = 144, 192, 112
    person = np.array([60, 20, 110, 130], np.float32)
    box = T.square_box(T.jitter_box(person, rng, 0.1, 0.1))  # may leave the frame: fine
    x, y = rng.uniform(70, 100), rng.uniform(40, 110)
    frames = blob_frame(H, W, x, y)[None]
    kps = np.array([[[x, y, 2]] + [[0, 0, 0]] * 16], np.float32)  # (T=1, K=17, 3)
    clip = T.crop_frames(frames, box, S)
    moved = T.crop_keypoints(kps, box, S)
    if seed % 2:
        clip, moved = T.mirror(clip, moved)
    # keypoint 0 (the nose) has no flip partner, so it stays at index 0
    cx, cy = centroid(clip[0])
    assert abs(cx - moved[0, 0, 0]) < 1.0 and abs(cy - moved[0, 0, 1]) < 1.0


def test_full_frame_box_is_identity():
    box = T.full_frame_box(30, 20)
    m = T.crop_matrix(box, 30)
    assert np.allclose(m, [[1, 0, 0], [0, 1.5, 0.25]])  # x identity; y stretched 20 -> 30
    kps = np.array([[[0, 0, 1], [29, 19, 1]]], np.float32)
    out = T.crop_keypoints(kps, box, 30)
    assert np.allclose(out[0, :, :2], [[0, 0.25], [29, 28.75]])


def test_square_box_keeps_centre_and_contains_box():
    box = np.array([10, 20, 50, 120], np.float32)
    sq = T.square_box(box)
    assert sq[2] - sq[0] == pytest.approx(sq[3] - sq[1]) == pytest.approx(100)
    assert (sq[:2] <= box[:2]).all() and (sq[2:] >= box[2:]).all()
    assert np.allclose((sq[:2] + sq[2:]) / 2, (box[:2] + box[2:]) / 2)


def test_test_crops_are_up_left_centre_down_right():
    box = np.array([0, 0, 100, 100], np.float32)
    crops = T.test_crop_boxes(box)
    assert np.allclose(crops[1], box)
    d = 100 * (256 / 224 - 1) / 2
    assert np.allclose(crops[0], box - d) and np.allclose(crops[2], box + d)
    frame = T.frame_test_boxes(192, 144)  # squares of the short side along the long axis
    assert np.allclose(frame[:, 3] - frame[:, 1], 144)
    assert frame[0, 0] == -0.5 and frame[2, 2] == 191.5


def test_union_box():
    assert T.union_box([[1, 5, 3, 6], [0, 7, 2, 9]]).tolist() == [0, 5, 3, 9]


def test_train_clip_sampling():
    rng = np.random.RandomState(0)
    starts = set()
    for _ in range(200):
        idx = T.train_indices(100, 8, 8, rng)
        assert len(idx) == 8 and (np.diff(idx) == 8).all() and idx[-1] <= 99
        starts.add(idx[0])
    assert min(starts) == 0 and max(starts) == 100 - 57  # every start in [0, 43] is possible


def test_short_video_shrinks_stride_then_repeats_last_frame():
    rng = np.random.RandomState(0)
    assert (np.diff(T.train_indices(30, 8, 8, rng)) == 4).all()  # 8 x stride 4 = 29 frames
    assert T.train_indices(5, 8, 8, rng).tolist() == [0, 1, 2, 3, 4, 4, 4, 4]


def test_test_clips_are_evenly_spaced():
    idx = T.test_indices(300, 8, 8, num_clips=10)
    assert idx.shape == (10, 8)
    assert idx[0, 0] == 0 and idx[-1, -1] == 299
    assert np.allclose(np.diff(idx[:, 0]), (300 - 57) / 9, atol=1)


def test_to_network_layout_and_normalisation():
    frames = np.full((4, 6, 6, 3), 255, np.uint8)
    x = T.to_network(frames)
    assert x.shape == (3, 4, 6, 6) and x.dtype == np.float32
    assert np.allclose(x[:, 0, 0, 0], (1 - T.IMAGENET_MEAN) / T.IMAGENET_STD)


@pytest.mark.parametrize("seed", range(4))
def test_rotated_scaled_crop_moves_pixels_and_points_alike(seed):
    rng = np.random.RandomState(seed)
    x, y = rng.uniform(60, 120), rng.uniform(40, 100)
    image = blob_frame(144, 192, x, y, 2.0)
    m = T.affine_crop_matrix((rng.uniform(80, 110), rng.uniform(60, 80)),
                             (rng.uniform(80, 120), rng.uniform(100, 140)), (96, 128),
                             rotation=rng.uniform(-30, 30))
    crop = T.warp(image, m, (96, 128))
    point = T.apply_affine(np.array([[x, y, 2]], np.float32), m)[0]
    cx, cy = centroid(crop)
    assert abs(cx - point[0]) < 1.0 and abs(cy - point[1]) < 1.0
    back = T.apply_affine(point[None], T.invert_affine(m))[0]  # crop -> image is the inverse
    assert np.allclose(back[:2], [x, y], atol=1e-4) and back[2] == 2

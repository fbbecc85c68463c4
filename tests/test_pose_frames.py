"""data/multitask/pose_frames.py: the soft-argmax targets against hand computations, their
inverse, the mirror, the crop's round trip to the annotation's units, the validation hold-out,
and a missing 3D annotation."""
import os
import shutil

import numpy as np
import pytest

from data.index import read_annotation, read_index, write_annotation
from data.keypoints import COCO_KEYPOINTS
from data.multitask import pose_frames as PF
from data.transforms import apply_affine

L_HIP, R_HIP = COCO_KEYPOINTS.index("left_hip"), COCO_KEYPOINTS.index("right_hip")
L_WRIST, R_WRIST = COCO_KEYPOINTS.index("left_wrist"), COCO_KEYPOINTS.index("right_wrist")


def frames(work, mode="train", **kwargs):
    prepared = os.path.join(work, "prepared")
    samples = [s for s in read_index(prepared) if s["view"] != 3]
    options = dict(size=64, frame_step=6, seed=3)
    options.update(kwargs)
    return PF.PoseFrames(prepared, samples, mode=mode, **options)


def test_one_joint_by_hand():
    """128-px crop, stride 8: 16 cells, cell c at c / 15; its centre at pixel 8c + 3.5. A joint
    at pixel (3.5, 123.5) is cell 0 across and cell 15 down: (0, 1); at (63.5, 43.5): cells 7.5
    and 5: (0.5, 1/3). 500 mm behind the pelvis of a 2000-mm range: z = 0.75."""
    uv = np.array([[3.5, 123.5], [63.5, 43.5]])
    pose = PF.encode(uv, [5500.0, 4800.0], 5000.0, size=128)
    np.testing.assert_allclose(pose, [[0.0, 1.0, 0.75], [0.5, 1 / 3, 0.4]], atol=1e-12)


def test_encode_and_decode_are_inverses():
    rng = np.random.RandomState(0)
    uv, depth, root = rng.uniform(-20, 150, (4, 17, 2)), rng.uniform(3000, 7000, (4, 17)), \
        rng.uniform(3000, 7000, 4)
    for size, stride, depth_range in ((128, 8, 2000.0), (256, 8, 1500.0), (64, 4, 3000.0)):
        pose = PF.encode(uv, depth, root, size, stride, depth_range)
        back_uv, back_depth = PF.decode(pose, root, size, stride, depth_range)
        np.testing.assert_allclose(back_uv, uv, atol=1e-9)
        np.testing.assert_allclose(back_depth, depth, atol=1e-9)
        again = PF.encode(*PF.decode(pose, root, size, stride, depth_range), root, size, stride,
                          depth_range)
        np.testing.assert_allclose(again, pose, atol=1e-12)


def test_targets_mask_unknown_joints_and_mark_those_outside_the_crop():
    kps = np.zeros((17, 3))
    kps[:, :2], kps[:, 2] = 30.0, 2.0
    kps[L_WRIST] = [64.0, 10.0, 2.0]  # past the right edge of a 64-px crop (63.5)
    kps[R_WRIST] = [-0.5, 63.5, 2.0]  # on the edges: inside
    kps[0, 2] = 0.0  # the nose is not annotated
    target, mask, visibility = PF.targets(kps, np.full(17, 5000.0), 5000.0, size=64)
    assert visibility[L_WRIST] == 0 and visibility[R_WRIST] == 1 and np.isnan(visibility[0])
    assert np.nansum(visibility) == 15
    # "drop" (the default): the joint outside keeps only its visibility target
    assert mask[0].sum() == 0 and mask[L_WRIST].sum() == 0
    assert np.delete(mask, [0, L_WRIST], axis=0).min() == 1
    assert target[L_WRIST, 0] == pytest.approx((64.0 - 3.5) / 56) and target[L_WRIST, 0] > 1
    assert target.dtype == mask.dtype == visibility.dtype == np.float32
    _, kept, kept_visibility = PF.targets(kps, np.full(17, 5000.0), 5000.0, size=64,
                                          outside="keep")
    assert kept[L_WRIST].sum() == 3 and kept[1:].min() == 1
    np.testing.assert_array_equal(kept_visibility, visibility)
    with pytest.raises(ValueError, match="outside joints"):
        PF.targets(kps, np.full(17, 5000.0), 5000.0, size=64, outside="clip")


def test_flip_pose_is_the_mirror_of_the_crop():
    """Encoding mirrored keypoints (x -> S - 1 - x, left and right swapped) equals flipping the
    encoded pose (x -> 1 - x, swapped): the eval's flip average undoes the mirror exactly."""
    from data.keypoints import flip_keypoints
    rng = np.random.RandomState(1)
    kps = np.concatenate([rng.uniform(0, 127, (17, 2)), np.full((17, 1), 2.0)], axis=1)
    depth = rng.uniform(4000, 6000, 17)
    pose = PF.encode(kps[:, :2], depth, 5000.0, 128)
    mirrored = flip_keypoints(kps, 128)
    perm = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])
    np.testing.assert_allclose(PF.encode(mirrored[:, :2], depth[perm], 5000.0, 128),
                               PF.flip_pose(pose), atol=1e-12)
    np.testing.assert_allclose(PF.flip_pose(PF.flip_pose(pose)), pose)


def test_a_flipped_training_item_swaps_left_and_right_and_mirrors_x(synth_work):
    """Same seed, epoch and index, no other augmentation: the item with the mirror drawn is the
    item without it, mirrored, with left and right joints swapped."""
    plain = frames(synth_work, scale=0.0, rotation=0.0, translation=0.0, flip=False)
    flipping = frames(synth_work, scale=0.0, rotation=0.0, translation=0.0, flip=True)
    flipped = [i for i in range(len(plain)) if not np.array_equal(plain[i][0], flipping[i][0])]
    assert 0 < len(flipped) < len(plain)  # about half are mirrored
    i = flipped[0]
    (image, target, mask, vis), (image_f, target_f, mask_f, vis_f) = plain[i], flipping[i]
    perm = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    np.testing.assert_array_equal(image_f, image[:, :, ::-1])
    np.testing.assert_array_equal(mask_f, mask[perm])
    np.testing.assert_allclose(target_f[:, 0], 1 - target[perm, 0], atol=1e-6)
    np.testing.assert_allclose(target_f[:, 1:], target[perm, 1:], atol=1e-6)
    np.testing.assert_array_equal(vis_f, vis[perm])
    assert target_f[L_WRIST, 2] == target[R_WRIST, 2]


def test_augmentation_is_seeded_by_seed_epoch_and_index(synth_work):
    a, b = frames(synth_work), frames(synth_work)
    for x, y in zip(a[4], b[4]):
        np.testing.assert_array_equal(x, y)
    b.set_epoch(1)
    assert not np.array_equal(a[4][0], b[4][0])


def test_a_test_item_maps_the_truth_back_to_the_annotation(synth_work):
    """Ground truth -> crop -> normalised -> decode -> frame pixels and camera mm: the
    annotation's own keypoints and 3D joints."""
    ds = frames(synth_work, mode="test", size=128)
    truth = ds.ground_truth()
    assert len(ds) == 20 * 2 and truth["joints_3d"].shape == (40, 17, 3)  # 20 videos x 2 frames
    for i in (0, 13, 39):
        image, matrix, root, camera, index = ds[i]
        assert image.shape == (3, 128, 128) and index == i and matrix.shape == (2, 3)
        kps, joints = truth["keypoints"][i], truth["joints_3d"][i]
        assert root == pytest.approx((joints[L_HIP, 2] + joints[R_HIP, 2]) / 2)
        crop = apply_affine(kps, matrix.astype(np.float64))
        assert crop[:, :2].min() > 0 and crop[:, :2].max() < 127  # the margin holds the person
        pose = PF.encode(crop[:, :2], joints[:, 2], root, 128)
        uv, depth = PF.decode(pose, root, 128)
        uv = PF.to_frame(uv, matrix)
        np.testing.assert_allclose(uv, kps[:, :2], atol=1e-3)
        np.testing.assert_allclose(PF.back_project(uv, depth, camera), joints, rtol=1e-5,
                                   atol=0.01)


def test_hold_out_keeps_the_views_of_a_performance_together(synth_work):
    samples = [s for s in read_index(os.path.join(synth_work, "prepared")) if s["view"] != 3]
    kept, held = PF.hold_out(samples, 0.2, seed=0)
    take = lambda s: (s["label"], s["subject"], s["repetition"])  # noqa: E731
    assert len(held) == 4 and len(kept) == 16  # 2 of 10 performances, 2 views each
    assert not {take(s) for s in kept} & {take(s) for s in held}
    assert PF.hold_out(samples, 0.2, seed=0) == (kept, held)
    assert PF.hold_out(samples, 0.0) == (samples, [])
    with pytest.raises(ValueError, match="leaves none to train on"):
        PF.hold_out(samples, 0.99)


def copy_without_3d(work, tmp_path):
    """The prepared set with one annotation rewritten as before the 3D ground truth."""
    prepared = str(tmp_path / "prepared")
    shutil.copytree(os.path.join(work, "prepared"), prepared)
    sample = read_index(prepared)[0]["id"]
    path = os.path.join(prepared, "annotations", sample + ".npz")
    write_annotation(path, *read_annotation(path))
    return prepared, path


def test_an_annotation_without_3d_is_the_readers_error_naming_it(synth_work, tmp_path):
    prepared, path = copy_without_3d(synth_work, tmp_path)
    with pytest.raises(ValueError, match=f"^{path}: no 3D ground truth"):
        PF.PoseFrames(prepared, read_index(prepared))

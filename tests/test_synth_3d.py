"""The synthetic benchmark's 3D ground truth: camera-frame joints in millimetres, the pinhole
camera whose projection of them is the 2D keypoints (before and after prepare), bone lengths of
a person of the stated height, and one skeleton seen by three rigidly placed cameras."""
import os

import numpy as np
import pytest

from data import synth
from common.errors import one_line
from data.index import read_annotation, read_annotation_3d, write_annotation
from data.prepare import prepare

SUBJECTS, CLASSES, FRAMES = 2, 4, 12
# COCO joint indices, written out here rather than taken from the renderer.
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
BONES = ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (L_SHOULDER, L_HIP), (R_SHOULDER, R_HIP),
         (L_SHOULDER, L_ELBOW), (L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW), (R_ELBOW, R_WRIST),
         (L_HIP, L_KNEE), (L_KNEE, L_ANKLE), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The raw benchmark and a copy prepared at half size (as if Table 2 said 72 px high)."""
    root = tmp_path_factory.mktemp("synth3d")
    raw, half = str(root / "raw"), str(root / "half")
    synth.generate(raw, subjects=SUBJECTS, repetitions=1, frames=FRAMES, classes=CLASSES,
                   progress=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth, "RESIZE", (96, 72))
        prepare("synth", raw, half, workers=1, progress=False)
    stems = sorted(f[:-4] for f in os.listdir(raw) if f.endswith(".npz"))
    assert len(stems) == CLASSES * SUBJECTS * 3
    return dict(raw=lambda stem: os.path.join(raw, stem + ".npz"),
                half=lambda stem: os.path.join(half, "annotations", stem + ".npz"), stems=stems)


def pinhole(joints_3d, camera):
    fx, fy, cx, cy = camera.astype(np.float64)
    x, y, z = np.moveaxis(joints_3d.astype(np.float64), -1, 0)
    return np.stack([fx * x / z + cx, fy * y / z + cy], axis=-1)


@pytest.mark.parametrize("copy", ["raw", "half"])
def test_keypoints_are_the_pinhole_projections_of_joints_3d(data, copy):
    for stem in data["stems"]:
        rec = read_annotation_3d(data[copy](stem))
        kps, joints = rec["keypoints"], rec["joints_3d"]
        assert joints.shape == kps.shape == (FRAMES, 17, 3) and joints.dtype == np.float32
        assert rec["camera"].shape == (4,) and rec["person_height_mm"] == 1750.0
        visible = kps[..., 2] > 0
        assert visible.all()  # the synthetic person is fully annotated
        err = np.abs(pinhole(joints, rec["camera"]) - kps[..., :2])[visible]
        assert err.max() < 0.01, stem
        # read_annotation, every existing caller's reader, returns the same keypoints and boxes.
        old_kps, old_boxes = read_annotation(data[copy](stem))
        assert np.array_equal(old_kps, kps) and np.array_equal(old_boxes, rec["boxes"])


def test_prepare_rescales_the_intrinsics_and_keeps_joints_3d(data):
    for stem in data["stems"]:
        full, half = read_annotation_3d(data["raw"](stem)), read_annotation_3d(data["half"](stem))
        assert np.array_equal(half["joints_3d"], full["joints_3d"])
        # The principal point is the image centre at both sizes: 95.5, 71.5 -> 47.5, 35.5.
        fx, fy, cx, cy = full["camera"]
        assert (cx, cy) == (95.5, 71.5) and fx == fy
        np.testing.assert_allclose(half["camera"], [fx / 2, fy / 2, 47.5, 35.5], rtol=1e-6)


def test_depth_is_positive_and_a_room_away(data):
    for stem in data["stems"]:
        z = read_annotation_3d(data["raw"](stem))["joints_3d"][..., 2]
        assert (z > 2000).all() and (z < 8000).all(), stem  # the camera is metres away


def test_bone_lengths_are_constant_and_human_for_the_stated_height(data):
    for stem in data["stems"]:
        rec = read_annotation_3d(data["raw"](stem))
        joints, height = rec["joints_3d"].astype(np.float64), rec["person_height_mm"]
        for a, b in BONES:
            length = np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)  # (T,)
            assert np.ptp(length) < 0.01, (stem, a, b)  # mm: rigid bones in every frame
        # Hip to knee joint centre is 0.245 of the stature (Drillis & Contini 1966); the subjects'
        # proportions vary by about 10 %.
        thigh = np.linalg.norm(joints[0, L_HIP] - joints[0, L_KNEE])
        assert 0.21 < thigh / height < 0.29, stem
        # By hand from the subject's body: the thigh is ``leg`` body units and the person is
        # 2 leg + 0.04 (ankle) + torso + neck + head units tall.
        subject = synth.parse(stem)["subject"]
        body = synth.random_body(np.random.RandomState([0, 1000 + subject]))
        units = 2 * body["leg"] + 0.04 + body["torso"] + body["neck"] + body["head"]
        assert thigh == pytest.approx(1750.0 * body["leg"] / units, abs=0.01)


def test_person_height_scales_the_3d_joints_and_not_the_video(tmp_path):
    tall, short = str(tmp_path / "tall"), str(tmp_path / "short")
    synth.generate(tall, subjects=1, repetitions=1, frames=4, classes=2, progress=False)
    synth.generate(short, subjects=1, repetitions=1, frames=4, classes=2, progress=False,
                   person_height_mm=1500.0)
    for view in (1, 2, 3):
        name = f"a01_s01_e01_v{view:02d}.npz"
        a = read_annotation_3d(os.path.join(tall, name))
        b = read_annotation_3d(os.path.join(short, name))
        assert b["person_height_mm"] == 1500.0
        np.testing.assert_allclose(b["joints_3d"], a["joints_3d"] * 1500 / 1750, rtol=1e-6)
        np.testing.assert_allclose(b["keypoints"], a["keypoints"], atol=1e-4)
        np.testing.assert_array_equal(b["camera"], a["camera"])


def rigid_fit(src, dst):
    """Least-squares rotation R and translation t with dst = src @ R.T + t (Kabsch)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - mu_s).T @ (dst - mu_d))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rotation, mu_d - mu_s @ rotation.T


def test_three_views_see_one_skeleton_under_a_rigid_camera_motion(data):
    for stem in data["stems"]:
        if not stem.endswith("_v01"):
            continue
        views = [read_annotation_3d(data["raw"](stem[:-2] + f"{v:02d}"))["joints_3d"]
                 for v in (1, 2, 3)]
        src = views[0].reshape(-1, 3).astype(np.float64)  # (T * 17, 3)
        for v, other in zip((2, 3), views[1:]):
            dst = other.reshape(-1, 3).astype(np.float64)
            rotation, t = rigid_fit(src, dst)
            residual = np.linalg.norm(src @ rotation.T + t - dst, axis=1)
            assert residual.max() < 0.05, (stem, v)  # mm, float32 storage
            assert np.linalg.det(rotation) == pytest.approx(1.0)
            # The cameras differ by a yaw about the vertical (camera y): 50 +- 16 degrees a view.
            np.testing.assert_allclose(rotation[1], [0, 1, 0], atol=1e-6)
            yaw = np.degrees(np.arctan2(rotation[0, 2], rotation[0, 0]))
            assert abs(abs(yaw) - 50 * (v - 1)) <= 16, (stem, v, yaw)
    # The check can fail: another subject's skeleton is not a rigid motion of this one.
    a = read_annotation_3d(data["raw"](data["stems"][0]))["joints_3d"].reshape(-1, 3)
    b = read_annotation_3d(data["raw"](data["stems"][3]))["joints_3d"].reshape(-1, 3)
    assert synth.parse(data["stems"][0])["subject"] != synth.parse(data["stems"][3])["subject"]
    rotation, t = rigid_fit(a.astype(np.float64), b.astype(np.float64))
    assert np.linalg.norm(a @ rotation.T + t - b, axis=1).max() > 10


def test_an_annotation_without_3d_is_one_line_naming_the_file(tmp_path):
    path = str(tmp_path / "old.npz")
    kps, boxes = np.zeros((2, 17, 3), np.float32), np.zeros((2, 4), np.float32)
    write_annotation(path, kps, boxes, object_class=3)  # as written before the 3D arrays
    assert read_annotation(path)[0].shape == (2, 17, 3)  # the 2D reader is unchanged
    with pytest.raises(ValueError) as info:
        read_annotation_3d(path)
    line = one_line(info.value)
    assert line.startswith(f"{path}: no 3D ground truth") and "\n" not in str(info.value)
    with pytest.raises(ValueError, match="without joints_3d"):  # the 3D arrays come together
        write_annotation(path, kps, boxes, camera=np.ones(4), person_height_mm=1750.0)


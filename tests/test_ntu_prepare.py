"""NTU ground truth for the multitask clips: ``data.prepare --skeletons`` writes each video's
per-frame pa20 joints, Kinect xyz and boxes from a .skeleton file written here in the authors'
layout (tests/test_ntu_skeleton.py), scaled from the 1920 x 1080 colour pixels to the resized
video; a video without a skeleton file is a skip with its reason; a rerun over an earlier
preparation only adds the annotations."""
import os

import numpy as np

from data.index import read_index, read_skipped
from data.prepare import prepare
from data.video import write_video
from test_ntu_skeleton import ID_A, ID_B, joint_values, write

# pa20 joint k is Kinect joint KINECT_TO_PA20[k], by hand from the two orders with NTU's sides
# swapped (data/joints.py): pelvis <- spine_base 0, thorax <- spine_shoulder 20, neck 2, head 3,
# right_shoulder <- shoulder_left 4, left_shoulder <- shoulder_right 8, ...
KINECT_TO_PA20 = [0, 20, 2, 3, 4, 8, 5, 9, 6, 10, 7, 11, 12, 16, 13, 17, 14, 18, 15, 19]
WITH, WITHOUT = "S001C001P001R001A001", "S001C002P002R001A002"


def test_skeletons_become_the_annotations_and_a_missing_one_is_a_skip(tmp_path):
    raw, skeletons, out = tmp_path / "rgb", tmp_path / "skeletons", str(tmp_path / "prepared")
    os.makedirs(raw)
    os.makedirs(skeletons)
    frames = np.random.RandomState(0).randint(0, 255, (3, 54, 96, 3)).astype(np.uint8)
    for stem in (WITH, WITHOUT):
        write_video(str(raw / f"{stem}_rgb.avi"), frames, 30)
    # body A (the first tracked: the one kept) in frame 1 only, body B in frames 1 and 3
    write(skeletons / f"{WITH}.skeleton", [[(ID_A, 1), (ID_B, 2)], [], [(ID_B, 2)]])
    first, _ = prepare("ntu", str(raw), out, workers=1, progress=False)  # no skeletons
    assert len(first) == 2 and not os.listdir(os.path.join(out, "annotations"))
    samples, skipped = prepare("ntu", str(raw), out, workers=1, progress=False,
                               skeletons=str(skeletons))
    assert [s["id"] for s in read_index(out)] == [WITH]
    assert read_skipped(os.path.join(out, "skipped.csv")) == [
        (str(raw / f"{WITHOUT}_rgb.avi"), f"no skeleton file {skeletons}/{WITHOUT}.skeleton")]
    w, h = samples[0]["width"], samples[0]["height"]
    assert (w, h) == (454, 256)  # NTU's Table 2 size from a 16:9 video
    values = np.array([joint_values(1, 0, j) for j in range(25)])[KINECT_TO_PA20]
    u = (values[:, 5] + 0.5) * w / 1920 - 0.5  # colour pixels -> the resized video's
    v = (values[:, 6] + 0.5) * h / 1080 - 0.5
    with np.load(os.path.join(out, "annotations", f"{WITH}.npz")) as z:
        kps, xyz, boxes, layout = z["keypoints"], z["xyz"], z["boxes"], str(z["layout"])
    assert layout == "pa20" and kps.shape == (3, 20, 3) and xyz.shape == (3, 20, 3)
    assert np.allclose(kps[0, :, 0], u, atol=1e-3) and np.allclose(kps[0, :, 1], v, atol=1e-3)
    assert (kps[0, :, 2] == 1).all() and not kps[1:, :, 2].any()  # body A absent in 2 and 3
    assert np.allclose(xyz[0], 1000 * values[:, :3], atol=1e-2) and np.isnan(xyz[1:]).all()
    box = [u.min(), v.min(), u.max(), v.max()]
    assert np.allclose(boxes, [box] * 3, atol=1e-3)  # frames without the body: the nearest's

"""Sec. 5.2's test crop: "an initial pose prediction using the full images from the first, middle,
and last frames of a clip", then "the maximum bounding box that encloses all the initially
predicted poses". Checked by hand: which frames, where a whole frame lands in the network input,
and that each test view is the crop of that box."""
import mxnet as mx
import numpy as np
import pytest

from data import transforms as T
from data.index import read_index
from data.multitask import pose_frames as PF
from data.multitask.clip_boxes import clip_box_frames, joints_box, whole_frame_matrix
from data.multitask.clips import MultitaskClips, NoAnnotation
from data.video import read_frames
from engine.systems.multitask import predict_clip_boxes
from symbols import get_model


def test_first_middle_and_last_frames_by_hand():
    assert clip_box_frames([2, 4, 6, 8]) == [2, 6, 8]
    assert clip_box_frames([5, 6, 7]) == [5, 6, 7]
    assert clip_box_frames(np.arange(0, 20)) == [0, 10, 19]


def test_a_whole_frame_is_its_square_scaled_to_the_input():
    """A 100 x 60 (W x H) frame onto 32 px: scale 32 / 100, the frame's centre (49.5, 29.5) at
    the input's (15.5, 15.5); the frame's corner pixel edges land on x = -0.5 and 31.5."""
    m = whole_frame_matrix(60, 100, 32)
    np.testing.assert_allclose(m[:, :2], np.eye(2) * 0.32, atol=1e-12)
    np.testing.assert_allclose(m @ [49.5, 29.5, 1.0], [15.5, 15.5], atol=1e-9)
    np.testing.assert_allclose(m @ [-0.5, 29.5, 1.0], [-0.5, 15.5], atol=1e-9)


def test_the_test_crop_is_the_box_of_the_poses_predicted_on_first_middle_last(synth_work):
    prepared = f"{synth_work}/prepared"
    samples = [s for s in read_index(prepared) if s["view"] == 3][:2]
    size = 64
    data = MultitaskClips(prepared, samples, mode="test", clip_len=4, size=size, stride=2,
                          test_clips="single", box_source="predicted")
    mx.random.seed(1)
    net = get_model("softargmax_multitask_tiny", num_frames=4)
    predict_clip_boxes(net, data, mx.cpu())
    annotated = data.replace(box_source="annotation")
    for i, sample in enumerate(samples):
        # 12 frames, T 4 at stride 2: the middle clip is frames 2, 4, 6, 8
        assert data.box_frames(i) == [2, 6, 8]
        frames = read_frames(f"{prepared}/{sample['path']}", [2, 6, 8])
        H, W = frames.shape[1:3]
        # the pose part's last block on the whole frames, by hand: pad to the square, resize
        scale = size / max(W, H)
        m = np.array([[scale, 0, (size - 1) / 2 - scale * (W - 1) / 2],
                      [0, scale, (size - 1) / 2 - scale * (H - 1) / 2]])
        images = np.stack([T.warp(f, m, (size, size)) for f in frames])
        pose, _ = net.predict_pose(mx.nd.array(T.to_network(images).transpose(1, 0, 2, 3)))
        xy = pose.asnumpy()[..., :2]  # (3, J, 2) in [0, 1] of the soft-argmax grid
        u = 3.5 + xy * (size - 8)  # grid -> input pixels (stride 8)
        frame_xy = (u - m[:, 2]) / scale  # input -> frame pixels
        box = np.concatenate([frame_xy.reshape(-1, 2).min(0), frame_xy.reshape(-1, 2).max(0)])
        # the test view is the crop of that box, made square with the margin
        views, label = data[i]
        clip = read_frames(f"{prepared}/{sample['path']}", [2, 4, 6, 8])
        crop = PF.crop_matrix(box, size, data.margin)
        want = T.to_network(np.stack([T.warp(f, crop, (size, size)) for f in clip]))
        np.testing.assert_allclose(views[0], want, atol=1e-3)
        # and not the annotation's box (the test could fail)
        assert np.abs(annotated[i][0][0] - views[0]).max() > 0.1


def test_the_joints_box_encloses_the_annotated_joints_of_first_middle_last():
    """eval.clip_box joints, by hand: joints with a third column > 0 on frames 2, 6, 8 of the
    clip 2, 4, 6, 8; frame 4's joint and unannotated ones (0 or NaN) do not count; a clip whose
    three frames have none takes all its frames; one with none at all has no box."""
    kps = np.zeros((10, 3, 3))
    kps[2] = [[10, 20, 1], [500, 500, 0], [np.nan, np.nan, 1]]
    kps[4] = [[0, 0, 2], [900, 900, 1], [5, 5, 1]]
    kps[6] = [[30, 5, 2], [15, 40, 1], [0, 0, 0]]
    kps[8] = [[25, 25, 1], [0, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(joints_box(kps, [2, 4, 6, 8]), [10, 5, 30, 40])
    only_middle = np.zeros((10, 3, 3))
    only_middle[5] = [[7, 8, 1], [9, 12, 1], [0, 0, 0]]
    np.testing.assert_allclose(joints_box(only_middle, [3, 4, 5, 6, 7]), [7, 8, 9, 12])
    assert joints_box(np.zeros((10, 3, 3)), [2, 4, 6]) is None


def test_a_joints_test_crop_is_the_box_of_the_annotated_joints(synth_work):
    """eval.clip_box joints is read: each test view is the crop of the annotated joints' box on
    the clip's first, middle and last frames (the annotated / Kinect rows see no estimated
    pose); a clip without annotated joints is an unreadable test video, named."""
    prepared = f"{synth_work}/prepared"
    samples = [s for s in read_index(prepared) if s["view"] == 3][:2]
    size = 64
    data = MultitaskClips(prepared, samples, mode="test", clip_len=4, size=size, stride=2,
                          test_clips="single", box_source="joints")
    annotated = data.replace(box_source="annotation")
    for i, sample in enumerate(samples):
        kps = data.annotations[i]["keypoints"][[2, 6, 8]].reshape(-1, 3)
        kps = kps[kps[:, 2] > 0]
        box = np.concatenate([kps[:, :2].min(0), kps[:, :2].max(0)])
        views, label = data[i]
        clip = read_frames(f"{prepared}/{sample['path']}", [2, 4, 6, 8])
        crop = PF.crop_matrix(box, size, data.margin)
        want = T.to_network(np.stack([T.warp(f, crop, (size, size)) for f in clip]))
        np.testing.assert_allclose(views[0], want, atol=1e-3)
        assert np.abs(annotated[i][0][0] - views[0]).max() > 0.1  # not the person box's crop
    data.annotations[0]["keypoints"][..., 2] = 0
    with pytest.raises(NoAnnotation, match=f"test video {samples[0]['id']}: no annotated joint"):
        data[0]

"""Training and test items, determinism across workers and epochs, pose targets, bad videos."""
import os
import shutil

import mxnet as mx
import numpy as np
import pytest

from data import synth
from data.index import read_annotation, read_index, write_poses
from data.loader import ClipDataset, PoseFileError, Substitutes, make_loader, overlapped
from data.prepare import prepare
from data.transforms import crop_keypoints, union_box
from data.video import VideoError
from symbols.pose_decoder import KeypointDecoder

SIZE, CLIP = 64, 4


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("loader")
    raw, out = str(root / "raw"), str(root / "prepared")
    synth.generate(raw, subjects=1, repetitions=1, frames=12, classes=4, progress=False)
    prepare("synth", raw, out, workers=1, progress=False)
    samples = read_index(out)
    boxes, poses = {}, str(root / "poses")
    for s in samples:
        kps, b = read_annotation(os.path.join(out, "annotations", s["id"] + ".npz"))
        boxes[s["id"]] = union_box(b)
        write_poses(poses, s["id"], kps)
    return out, samples, boxes, poses


def dataset(prepared, **kw):
    out, samples, boxes, poses = prepared
    args = dict(boxes=boxes, poses_dir=poses, clip_len=CLIP, stride=2, size=SIZE, seed=3)
    args.update(kw)
    return ClipDataset(out, samples, **args)


def test_train_item_shapes(prepared):
    clip, label, heat, offsets, weights = dataset(prepared)[0]
    assert clip.shape == (3, CLIP, SIZE, SIZE) and clip.dtype == np.float32
    assert heat.shape == (CLIP, 17, 8, 8) and offsets.shape == (CLIP, 17, 2, 8, 8)
    assert weights.shape == (CLIP, 17) and int(label) == 0


def test_targets_decode_to_the_cropped_keypoints(prepared):
    """With mirror and jitter off, the targets decode to the keypoints the crop predicts."""
    out, samples, boxes, poses = prepared
    ds = dataset(prepared, mirror=False, jitter=(0, 0), stride=1)
    _, _, heat, offsets, _ = ds[2]
    rng = np.random.RandomState([3, 0, 2])  # the item's own random stream: first draw = start
    start = rng.randint(0, samples[2]["frames"] - CLIP + 1)
    kps, _ = read_annotation(os.path.join(out, "annotations", samples[2]["id"] + ".npz"))
    from data.transforms import square_box
    expected = crop_keypoints(kps[start:start + CLIP], square_box(boxes[samples[2]["id"]]), SIZE)
    dec = KeypointDecoder(8, ds.radius)(mx.nd.array(heat[None] * 20 - 10),
                                        mx.nd.array(offsets[None])).asnumpy()[0]
    inside = (expected[..., :2] > 0).all(-1) & (expected[..., :2] < SIZE - 1).all(-1)
    np.testing.assert_allclose(dec[..., :2][inside], expected[..., :2][inside], atol=1e-3)


def test_items_depend_on_seed_and_epoch_only(prepared):
    ds = dataset(prepared)
    a = ds[1][0]
    np.testing.assert_array_equal(a, dataset(prepared)[1][0])
    ds.set_epoch(1)
    assert not np.array_equal(a, ds[1][0])


def test_without_poses_targets_are_empty(prepared):
    _, _, heat, _, weights = dataset(prepared, poses_dir=None)[0]
    assert heat.sum() == 0 and weights.sum() == 0


def test_test_item_has_30_views(prepared):
    clips, label = dataset(prepared, mode="test")[0]
    assert clips.shape == (30, 3, CLIP, SIZE, SIZE)
    frame_clips, _ = dataset(prepared, mode="test", crop="frame", boxes=None)[0]
    assert frame_clips.shape == (30, 3, CLIP, SIZE, SIZE)
    assert not np.array_equal(clips, frame_clips)


def test_test_views_are_each_clip_cropped_by_each_box(prepared):
    """Every view against its clip's frames cropped by its box, by the transforms alone."""
    from data import transforms as T
    from data.video import read_frames
    out, samples, boxes, _ = prepared
    ds = dataset(prepared, mode="test")
    views, _ = ds[1]
    idx = T.test_indices(samples[1]["frames"], CLIP, 2, 10)
    frames = read_frames(os.path.join(out, samples[1]["path"]), np.arange(samples[1]["frames"]))
    crops = T.test_crop_boxes(boxes[samples[1]["id"]], ds.test_crop_scale)
    expected = [T.to_network(T.crop_frames(frames[i], box, SIZE)) for i in idx for box in crops]
    np.testing.assert_array_equal(views, np.stack(expected))


def test_decoded_copies_give_the_decoded_frames_and_follow_the_video(prepared, tmp_path):
    out, samples, _, _ = prepared
    folder = str(tmp_path / "decoded")
    for mode in ("train", "test"):
        cached, plain = dataset(prepared, mode=mode, decoded=folder), dataset(prepared, mode=mode)
        for i in (0, 3):
            np.testing.assert_array_equal(cached[i][0], plain[i][0])
    copy = tmp_path / "decoded" / (samples[0]["path"] + ".npy")
    assert np.load(copy).shape == (samples[0]["frames"], 144, 192, 3)
    # A copy older than its video, or torn, is made again from the video.
    from data.video import decoded_copy
    video = os.path.join(out, samples[0]["path"])
    np.save(copy, np.zeros((2, 4, 4, 3), np.uint8))
    os.utime(copy, (os.path.getmtime(video) - 10,) * 2)
    assert decoded_copy(video, str(copy)).shape[0] == samples[0]["frames"]
    copy.write_bytes(b"torn")
    assert decoded_copy(video, str(copy)).shape[0] == samples[0]["frames"]


def test_person_crop_needs_boxes(prepared):
    out, samples, _, _ = prepared
    with pytest.raises(ValueError, match="no person box"):
        ClipDataset(out, samples, boxes={})


def test_batches_are_the_same_with_0_and_2_workers(prepared):
    ds = dataset(prepared)
    batches = []
    for workers in (0, 2):
        loader = make_loader(ds, batch_size=3, shuffle=True, workers=workers, seed=5)
        loader.sampler.set_epoch(2)
        batches.append([b[0].asnumpy() for b in loader])
    assert len(batches[0]) == 4  # 12 samples / 3
    for x, y in zip(*batches):
        np.testing.assert_array_equal(x, y)


def test_an_unreadable_video_is_replaced_and_logged(prepared, tmp_path, caplog):
    out, samples, boxes, poses = prepared
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy)
    open(os.path.join(copy, samples[0]["path"]), "w").close()  # broken after prepare
    ds = ClipDataset(copy, samples, boxes=boxes, clip_len=CLIP, stride=2, size=SIZE)
    with pytest.raises(VideoError, match=samples[0]["id"]):  # never silently replaced
        ds[0]
    item, unreadable = Substitutes(ds)[0]  # training's wrapper: replaced, flagged and logged
    assert int(item.label) == samples[1]["label"] and int(unreadable) == 1
    assert int(Substitutes(ds)[1].unreadable) == 0
    assert "unreadable video " + samples[0]["id"] in caplog.text
    test = ClipDataset(copy, samples, boxes=boxes, clip_len=CLIP, stride=2, size=SIZE,
                       mode="test", num_clips=2)
    with pytest.raises(VideoError, match=samples[0]["id"]):
        test[0]


def test_a_missing_or_broken_pose_file_is_an_error_not_a_substitute(prepared, tmp_path):
    out, samples, boxes, poses = prepared
    copy = str(tmp_path / "poses")
    shutil.copytree(poses, copy)
    os.remove(os.path.join(copy, samples[0]["id"] + ".npy"))
    np.save(os.path.join(copy, samples[1]["id"] + ".npy"), np.full((12, 17, 3), np.nan))
    ds = Substitutes(dataset(prepared, poses_dir=copy))
    with pytest.raises(PoseFileError, match=samples[0]["id"]):
        ds[0]
    with pytest.raises(PoseFileError, match="non-finite"):
        ds[1]


def test_pose_min_confidence_decides_which_joints_are_targets(prepared, tmp_path):
    out, samples, boxes, poses = prepared
    copy = str(tmp_path / "poses")
    shutil.copytree(poses, copy)
    kps = np.load(os.path.join(copy, samples[0]["id"] + ".npy"))
    kps[..., 2] = np.linspace(0.05, 0.95, 17)  # pseudo-pose probabilities
    np.save(os.path.join(copy, samples[0]["id"] + ".npy"), kps)
    for threshold in (0.0, 0.5):
        weights = dataset(prepared, poses_dir=copy, min_confidence=threshold, mirror=False)[0][4]
        np.testing.assert_array_equal(weights[0], np.linspace(0.05, 0.95, 17) > threshold)


def test_overlapped_reads_each_result_after_the_next_item_is_loaded():
    events = []

    def items():
        for k in range(3):
            events.append(f"load {k}")
            yield k

    def queue(k):
        events.append(f"queue {k}")
        return None if k == 1 else k * 10  # None (a skipped item) is yielded like any result

    for result in overlapped(items(), queue):
        events.append(f"read {result}")
    assert events == ["load 0", "queue 0", "load 1", "read 0", "queue 1", "load 2", "read None",
                      "queue 2", "read 20"]
    assert list(overlapped(iter([]), queue)) == []

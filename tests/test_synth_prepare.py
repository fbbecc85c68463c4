"""The synthetic benchmark and the prepare stage, including every kind of bad input and output."""
import glob
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data import msr, ntu, nucla, synth, utd
from data import prepare as prepare_module
from data.index import read_annotation, read_annotation_3d, read_index, read_skipped, read_splits
from data.prepare import prepare, target_size
from data.protocols import parse_names
from data.transforms import square_box, union_box
from data.video import read_video
from helpers import fill_the_disk


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synth"))
    synth.generate(out, subjects=2, repetitions=1, frames=12, bias=1.0, classes=10,
                   progress=False)
    return out


def test_synth_writes_named_videos_with_ground_truth(raw):
    videos = sorted(f for f in os.listdir(raw) if f.endswith(".avi"))
    assert len(videos) == 10 * 2 * 3
    samples, skipped = parse_names(synth, videos)
    assert len(samples) == 60 and not skipped
    frames, fps = read_video(os.path.join(raw, videos[0]))
    kps, boxes = read_annotation(os.path.join(raw, videos[0][:-4] + ".npz"))
    assert frames.shape == (12, 144, 192, 3) and fps == synth.FPS
    assert kps.shape == (12, 17, 3) and boxes.shape == (12, 4)
    # Every keypoint lies inside its frame and inside its frame's person box.
    assert (kps[..., 0] >= 0).all() and (kps[..., 0] < 192).all()
    assert (kps[..., 0] >= boxes[:, None, 0]).all() and (kps[..., 1] <= boxes[:, None, 3]).all()


def test_scene_bias_and_object_outside_person_crop(raw):
    own = {1: 0, 2: 0, 3: 0}
    for f in sorted(os.listdir(raw)):
        if not f.endswith(".npz"):
            continue
        fields = synth.parse(f[:-4])
        with np.load(os.path.join(raw, f)) as z:
            obj, obj_box, boxes = int(z["object_class"]), z["object_box"], z["boxes"]
        own[fields["view"]] += obj == fields["label"]
        crop = square_box(union_box(boxes))
        overlap_w = min(crop[2], obj_box[2]) - max(crop[0], obj_box[0])
        assert overlap_w <= 0, f  # the object never enters the person's square crop
    assert own[1] == own[2] == 20  # bias 1.0: the class's own object in every training view
    assert own[3] < 10  # random in the test view (expected 2 of 20)


def test_synth_is_deterministic(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for out in (a, b):
        synth.generate(out, subjects=1, repetitions=1, frames=4, classes=2, progress=False)
    for f in sorted(os.listdir(a)):
        if f.endswith(".npz"):
            ra, rb = read_annotation_3d(os.path.join(a, f)), read_annotation_3d(os.path.join(b, f))
            assert sorted(ra) == sorted(rb)
            for key in ra:  # keypoints, boxes, joints_3d, camera, the object
                np.testing.assert_array_equal(ra[key], rb[key])


def test_prepare_skips_and_reports_every_bad_input(raw, tmp_path):
    src = str(tmp_path / "raw")
    shutil.copytree(raw, src)
    good = os.path.join(src, "a01_s01_e01_v01.avi")
    open(os.path.join(src, "a01_s09_e01_v01.avi"), "w").close()  # zero-byte
    with open(good, "rb") as f:
        data = f.read()
    with open(os.path.join(src, "a02_s09_e01_v01.avi"), "wb") as f:
        f.write(data[: len(data) // 2])  # truncated
    with open(os.path.join(src, "a03_s09_e01_v01.avi"), "w") as f:
        f.write("this is not a video\n" * 50)  # non-video
    os.symlink(os.path.join(src, "gone.avi"), os.path.join(src, "a04_s09_e01_v01.avi"))  # missing
    open(os.path.join(src, "holiday.avi"), "w").close()  # unparseable name
    out = str(tmp_path / "prepared")
    samples, skipped = prepare("synth", src, out, workers=2, progress=False)
    assert len(samples) == 60
    reasons = {os.path.basename(n): r for n, r in read_skipped(os.path.join(out, "skipped.csv"))}
    assert reasons["a01_s09_e01_v01.avi"] == "zero-byte file"
    assert reasons["a02_s09_e01_v01.avi"].startswith("truncated")
    assert reasons["a03_s09_e01_v01.avi"] == "not a readable video"
    assert reasons["a04_s09_e01_v01.avi"] == "missing file"
    assert reasons["holiday.avi"].startswith("unparseable name")
    index = read_index(out)
    assert len(index) == 60 and all(s["frames"] == 12 for s in index)
    assert {(s["width"], s["height"]) for s in index} == {(192, 144)}  # rendered at that size
    assert read_splits(out)["protocols"]["xview3"] == {
        "train": [s["id"] for s in index if s["view"] != 3],
        "test": [s["id"] for s in index if s["view"] == 3]}
    kps, _ = read_annotation(os.path.join(out, "annotations", "a01_s01_e01_v01.npz"))
    np.testing.assert_allclose(kps, read_annotation(good[:-4] + ".npz")[0])  # same size


def test_prepare_resumes_from_markers(raw, tmp_path):
    out = str(tmp_path / "prepared")
    prepare("synth", raw, out, workers=1, progress=False)
    first = read_index(out)
    victim = os.path.join(out, "videos", first[0]["id"] + ".avi")
    stamp = os.path.getmtime(os.path.join(out, "videos", first[1]["id"] + ".avi"))
    os.remove(victim)
    os.remove(os.path.join(out, ".done", first[0]["id"] + ".json"))
    prepare("synth", raw, out, workers=1, progress=False)
    assert os.path.exists(victim)  # redone
    assert os.path.getmtime(os.path.join(out, "videos", first[1]["id"] + ".avi")) == stamp
    assert [s["id"] for s in read_index(out)] == [s["id"] for s in first]


def test_prepare_resizes_to_the_table_height_and_scales_annotations(raw, tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "RESIZE", (96, 72))  # as if the table said 72 px high
    out = str(tmp_path / "half")
    samples, _ = prepare("synth", raw, out, workers=1, progress=False)
    assert {(s["width"], s["height"]) for s in samples} == {(96, 72)}
    half, _ = read_annotation(os.path.join(out, "annotations", "a01_s01_e01_v01.npz"))
    full, _ = read_annotation(os.path.join(raw, "a01_s01_e01_v01.npz"))
    np.testing.assert_allclose(half[..., :2], (full[..., :2] + 0.5) / 2 - 0.5, atol=1e-4)


def test_prepare_with_nothing_usable_fails(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    (src / "a01_s01_e01_v01.avi").write_text("")
    with pytest.raises(RuntimeError, match="no usable"):
        prepare("synth", str(src), str(tmp_path / "out"), workers=1, progress=False)
    assert os.path.exists(tmp_path / "out" / "skipped.csv")


@pytest.mark.parametrize("dataset, source, table", [
    (ntu, (1920, 1080), (454, 256)),  # Table 2; rounding to the nearest even width gives 456
    (nucla, (640, 480), (340, 256)),  # 341.3 -> 340, not 342
    (msr, (640, 480), (340, 256)),
    (utd, (640, 480), (340, 256)),
    (synth, (192, 144), (192, 144)),  # the demo's videos are not resized
])
def test_target_size_is_table_2(dataset, source, table):
    assert target_size(*source, dataset.RESIZE) == table == dataset.RESIZE


def test_target_size_rounds_down_to_even():
    # 100 x 256 / 90 = 284.4 -> 284; 101 x 256 / 90 = 287.3 -> 286 (odd floor 287 -> 286)
    assert target_size(100, 90, (0, 256)) == (284, 256)
    assert target_size(101, 90, (0, 256)) == (286, 256)


class HalfWriter:
    """cv2.VideoWriter as on a disk that fills half-way: the rest is lost without a word."""

    def __init__(self, path, fourcc, fps, size):
        self.writer, self.written = REAL_WRITER(path, fourcc, fps, size), 0

    def isOpened(self):  # noqa: N802, OpenCV's name
        return self.writer.isOpened()

    def write(self, frame):
        if self.written < 2:  # the clips here have 4 or 12 frames
            self.writer.write(frame)
        self.written += 1

    def release(self):
        self.writer.release()


REAL_WRITER = cv2.VideoWriter


def temporaries(folder):
    return glob.glob(os.path.join(str(folder), "**", "*.tmp*"), recursive=True)


def test_prepare_with_videos_cut_short_stops_and_names_one(raw, tmp_path, monkeypatch):
    monkeypatch.setattr(cv2, "VideoWriter", HalfWriter)  # forked workers inherit it
    out = str(tmp_path / "prepared")
    with pytest.raises(OSError) as info:
        prepare("synth", raw, out, workers=2, progress=False)
    name = info.value.filename
    assert os.path.dirname(name) == os.path.join(out, "videos") and name.endswith(".avi")
    assert "reads back 2 of 12 frames" in info.value.strerror
    assert os.listdir(os.path.join(out, "videos")) == [] and temporaries(out) == []
    assert not os.path.exists(os.path.join(out, "index.jsonl"))


def test_prepare_main_on_a_full_disk_is_one_line(raw, tmp_path, monkeypatch):
    fill_the_disk(monkeypatch)
    out = str(tmp_path / "prepared")
    with pytest.raises(SystemExit) as info:
        prepare_module.main(["--dataset", "synth", "--raw", raw, "--out", out, "--workers", "1"])
    # The first sample's video is written by OpenCV; its annotation is the first os.write.
    first = os.path.join(out, "annotations", "a01_s01_e01_v01.npz")
    assert info.value.code == f"error: {first}: No space left on device"
    assert not os.path.exists(first) and temporaries(out) == []


def test_prepare_into_an_unwritable_folder_exits_with_one_line(raw, tmp_path):
    # Root ignores chmod: a folder below a regular file is unwritable for everyone.
    (tmp_path / "file").write_text("a regular file")
    out = str(tmp_path / "file" / "prepared")
    run = subprocess.run([sys.executable, "-m", "data.prepare", "--dataset", "synth", "--raw", raw,
                          "--out", out], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {out}: Not a directory"]


def test_synth_with_videos_cut_short_leaves_no_video_and_resumes(tmp_path, monkeypatch):
    out = str(tmp_path / "synth")
    monkeypatch.setattr(cv2, "VideoWriter", HalfWriter)
    with pytest.raises(OSError) as info:
        synth.generate(out, subjects=1, repetitions=1, frames=4, classes=2, progress=False)
    assert info.value.filename == os.path.join(out, "a01_s01_e01_v01.avi")
    assert not glob.glob(os.path.join(out, "*.avi")) and temporaries(out) == []
    monkeypatch.undo()
    assert synth.generate(out, subjects=1, repetitions=1, frames=4, classes=2,
                          progress=False) == 6  # the rerun renders every video
    assert sorted(os.listdir(out)) == sorted(
        [f"a{a:02d}_s01_e01_v{v:02d}.{ext}" for a in synth.ACTION_CODES[:2] for v in (1, 2, 3)
         for ext in ("avi", "npz")] + ["synth.json"])


def test_synth_main_into_an_unwritable_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("a regular file")
    out = str(tmp_path / "file" / "synth")
    with pytest.raises(SystemExit) as info:
        synth.main(["--out", out, "--subjects", "1", "--repetitions", "1", "--frames", "4"])
    assert info.value.code == f"error: {out}: Not a directory"

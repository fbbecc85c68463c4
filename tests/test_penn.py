"""Penn Action: labels/NNNN.mat written here with the official variables (action, pose, x, y,
visibility, train, bbox, dimensions, nframes), read back; a label file short of one bbox row; the
train flag's split through the protocols CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from data import penn_action as penn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_label(folder, video, frames=3, train=1, action="tennis_serve", box_rows=None, seed=0):
    rng = np.random.RandomState(seed)
    label = dict(action=action, pose="back", x=rng.uniform(0, 480, (frames, 13)),
                 y=rng.uniform(0, 270, (frames, 13)), visibility=rng.rand(frames, 13) > 0.2,
                 train=train, dimensions=np.array([272, 481, frames]), nframes=frames)
    rows = frames if box_rows is None else box_rows
    label["bbox"] = np.stack([np.arange(rows) + 10.0, np.full(rows, 20.0),
                              np.arange(rows) + 110.0, np.full(rows, 220.0)], axis=1)
    os.makedirs(folder, exist_ok=True)
    scipy.io.savemat(os.path.join(folder, f"{video}.mat"), label)
    return label


def test_label_file_reads_back_exactly(tmp_path):
    label = write_label(tmp_path, "0001")
    got = penn.read_labels(str(tmp_path / "0001.mat"))
    assert got["id"] == "0001" and got["action"] == "tennis_serve" and got["view"] == "back"
    assert got["label"] == penn.CLASSES.index("tennis_serve") == 14 and got["train"]
    assert got["frames"] == 3 and got["size"] == (272, 481)
    assert np.array_equal(got["joints"][..., 0], label["x"])
    assert np.array_equal(got["joints"][..., 1], label["y"])
    assert np.array_equal(got["visible"], label["visibility"])
    assert np.array_equal(got["boxes"], label["bbox"]) and got["boxes_filled"] == 0


def test_a_missing_last_box_repeats_the_one_before(tmp_path):
    label = write_label(tmp_path, "0002", frames=4, box_rows=3, train=-1)
    got = penn.read_labels(str(tmp_path / "0002.mat"))
    assert got["boxes"].shape == (4, 4) and got["boxes_filled"] == 1 and not got["train"]
    assert np.array_equal(got["boxes"][:3], label["bbox"])
    assert got["boxes"][3].tolist() == label["bbox"][2].tolist() == [12.0, 20.0, 112.0, 220.0]


def test_single_frame_video(tmp_path):
    write_label(tmp_path, "0003", frames=1)
    assert penn.read_labels(str(tmp_path / "0003.mat"))["joints"].shape == (1, 13, 2)


@pytest.mark.parametrize("change, message", [
    (dict(box_rows=5), "bbox has 5 rows for 3 frames"),
    (dict(box_rows=0), "bbox has 0 rows for 3 frames"),
    (dict(train=0), "train is 0; it must be 1"),
    (dict(action="dancing"), "unknown action 'dancing'")])
def test_bad_label_files_name_the_problem(tmp_path, change, message):
    write_label(tmp_path, "0009", **change)
    with pytest.raises(ValueError, match=message):
        penn.read_labels(str(tmp_path / "0009.mat"))


def test_joint_arrays_must_match_the_frames(tmp_path):
    label = write_label(tmp_path, "0004")
    label["x"] = label["x"][:2]
    scipy.io.savemat(str(tmp_path / "0004.mat"), label)
    with pytest.raises(ValueError, match=r"x has shape \(2, 13\), expected \(3, 13\)"):
        penn.read_labels(str(tmp_path / "0004.mat"))


def test_split_counts_and_frame_paths(tmp_path):
    for k, train in enumerate([1, 1, -1]):
        write_label(tmp_path / "labels", f"{k + 1:04d}", train=train)
    assert penn.count_splits(str(tmp_path / "labels")) == {"official": {"train": 2, "test": 1}}
    assert penn.frame_paths("/d", "0002", 2) == ["/d/frames/0002/000001.jpg",
                                                 "/d/frames/0002/000002.jpg"]


def run_protocols(*args):
    return subprocess.run([sys.executable, "-m", "data.protocols", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_protocols_cli_counts_the_labels_folder(tmp_path):
    for k, train in enumerate([1, -1, -1]):
        write_label(tmp_path / "labels", f"{k + 1:04d}", train=train)
    run = run_protocols("--dataset", "penn_action", "--pose", "--names", str(tmp_path / "labels"))
    assert run.returncode == 0 and not run.stderr, run.stderr
    report = json.loads(run.stdout)
    assert report["dataset"] == "penn_action"
    assert report["protocols"] == {"official": {"train": 1, "test": 2}}
    old = run_protocols("--dataset", "penn", "--names", str(tmp_path / "labels"))  # the old name
    assert old.returncode == 0 and json.loads(old.stdout) == report
    assert old.stderr == ("notice: penn is now penn_action; the old name works until the next "
                          "release\n")


def test_protocols_cli_bad_labels_are_one_line(tmp_path):
    write_label(tmp_path / "labels", "0001", box_rows=7)
    for names in (str(tmp_path / "labels"), str(tmp_path / "nowhere")):
        run = run_protocols("--dataset", "penn_action", "--pose", "--names", names)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")

"""The person-box stage: threshold, union, clamping, full-frame fallback, resume."""
import json
import os

import numpy as np
import pytest

import detect_persons
from data import synth
from data.index import read_boxes, read_index
from data.prepare import prepare


def test_union_of_confident_boxes_only():
    boxes = [np.array([[10, 20, 30, 60], [0, 0, 5, 5]]), np.array([[25, 10, 50, 40]])]
    scores = [np.array([0.995, 0.5]), np.array([0.991])]
    r = detect_persons.video_box(boxes, scores, 0.99, 100, 80)
    assert r["box"] == [10, 10, 50, 60] and not r["fallback"]
    assert r["frames_seen"] == 2 and r["frames_with_person"] == 2


def test_no_confident_person_falls_back_to_the_full_frame():
    r = detect_persons.video_box([np.array([[1, 1, 9, 9]])], [np.array([0.98])], 0.99, 64, 48)
    assert r["fallback"] and r["box"] == [-0.5, -0.5, 63.5, 47.5]
    assert r["frames_with_person"] == 0


def test_boxes_past_the_frame_are_clamped():
    r = detect_persons.video_box([np.array([[-20, 5, 90, 60]])], [np.array([1.0])], 0.99, 64, 48)
    assert r["box"] == [-0.5, 5, 63.5, 47.5]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    synth.generate(str(root / "raw"), subjects=1, repetitions=1, frames=6, classes=3,
                   progress=False)
    prepare("synth", str(root / "raw"), str(root / "prepared"), workers=1, progress=False)
    return str(root / "prepared")


def test_gt_detector_writes_one_box_a_video(prepared, tmp_path):
    out = str(tmp_path / "boxes.json")
    detect_persons.main(["--dataset", "synth", "--prepared", prepared, "--out", out])
    boxes, record = read_boxes(out)
    assert sorted(boxes) == sorted(s["id"] for s in read_index(prepared))
    assert record["detector"] == "gt" and record["threshold"] == 0.99
    assert all(v["frames_seen"] == 6 and not v["fallback"] for v in record["videos"].values())


def test_resume_after_a_kill_lists_every_video_once(prepared, tmp_path):
    out = str(tmp_path / "boxes.json")
    full = detect_persons.run(prepared, str(tmp_path / "full.json"), "synth", progress=False)
    ids = sorted(full)
    # A run killed after three videos, in the middle of writing the fourth line.
    with open(out + ".partial", "w") as f:
        for i in ids[:3]:
            f.write(json.dumps(dict(id=i, result=full[i])) + "\n")
        f.write('{"id": "' + ids[3] + '", "resu')
    real_gt = detect_persons.gt_detections
    calls = []

    def killed_again(prepared_dir, sample, stride):  # a second kill, two videos later
        calls.append(sample["id"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_gt(prepared_dir, sample, stride)
    detect_persons.gt_detections = killed_again
    try:
        with pytest.raises(KeyboardInterrupt):
            detect_persons.run(prepared, out, "synth", progress=False)
    finally:
        detect_persons.gt_detections = real_gt
    with open(out + ".partial") as f:
        assert [json.loads(line)["id"] for line in f] == ids[:5]  # every line whole
    videos = detect_persons.run(prepared, out, "synth", progress=False)
    assert sorted(videos) == ids and videos == full
    assert not os.path.exists(out + ".partial")
    with open(out) as f:
        assert sorted(json.load(f)["videos"]) == ids

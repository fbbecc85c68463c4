"""The person-box stage: threshold, union, clamping, full-frame fallback, resume."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import detect_persons
from data import synth
from data.index import read_boxes, read_index
from data.prepare import prepare
from engine.stages.person_boxes import video_box


def test_union_of_confident_boxes_only():
    boxes = [np.array([[10, 20, 30, 60], [0, 0, 5, 5]]), np.array([[25, 10, 50, 40]])]
    scores = [np.array([0.995, 0.5]), np.array([0.991])]
    r = video_box(boxes, scores, 0.99, 100, 80)
    assert r["box"] == [10, 10, 50, 60] and not r["fallback"]
    assert r["frames_seen"] == 2 and r["frames_with_person"] == 2


def test_no_confident_person_falls_back_to_the_full_frame():
    r = video_box([np.array([[1, 1, 9, 9]])], [np.array([0.98])], 0.99, 64, 48)
    assert r["fallback"] and r["box"] == [-0.5, -0.5, 63.5, 47.5]
    assert r["frames_with_person"] == 0


def test_boxes_past_the_frame_are_clamped():
    r = video_box([np.array([[-20, 5, 90, 60]])], [np.array([1.0])], 0.99, 64, 48)
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
        records = [json.loads(line) for line in f]  # every line whole
    assert records[0] == dict(settings=dict(detector="gt", threshold=0.99, frame_stride=1,
                                            dtype="float32"))
    assert [r["id"] for r in records[1:]] == ids[:5]
    videos = detect_persons.run(prepared, out, "synth", progress=False)
    assert sorted(videos) == ids and videos == full
    assert not os.path.exists(out + ".partial")
    with open(out) as f:
        assert sorted(json.load(f)["videos"]) == ids


def test_resume_refuses_a_partial_file_of_other_settings(prepared, tmp_path):
    out = str(tmp_path / "boxes.json")
    with open(out + ".partial", "w") as f:
        f.write(json.dumps(dict(settings=dict(detector="gt", threshold=0.99, frame_stride=1,
                                              dtype="float32"))) + "\n")
    with pytest.raises(detect_persons.DetectorError, match="threshold.*0.5.*delete it"):
        detect_persons.run(prepared, out, "synth", threshold=0.5, progress=False)
    with pytest.raises(detect_persons.DetectorError, match="bfloat16.*delete it"):
        detect_persons.run(prepared, out, "synth", progress=False, dtype="bfloat16")
    videos = detect_persons.run(prepared, out, "synth", progress=False)  # the same settings
    assert len(videos) == len(read_index(prepared))


def test_rfcn_detector_over_the_videos_with_release_style_weights(prepared, tmp_path):
    """The toy-size Deformable R-FCN, weights from a checkpoint in the release's naming: every
    frame seen (stride 2 of 6 -> 3), batched; random weights find no confident person, so every
    video falls back to its full frame, and says so."""
    from symbols.detector import rfcn
    weights = str(tmp_path / "tiny.params")
    rfcn.save_release_params(rfcn.get_detector("dcn_rfcn_tiny"), weights)
    out = str(tmp_path / "boxes.json")
    detect_persons.main(["--dataset", "synth", "--prepared", prepared, "--out", out,
                         "--detector", "dcn_rfcn_tiny", "--weights", weights,
                         "--frame-stride", "2", "--batch-size", "2"])
    boxes, record = read_boxes(out)
    samples = read_index(prepared)
    assert sorted(boxes) == sorted(s["id"] for s in samples)
    assert record["detector"] == "dcn_rfcn_tiny"
    for s in samples:
        v = record["videos"][s["id"]]
        assert v["frames_seen"] == 3 and v["frames_with_person"] == 0 and v["fallback"]
        assert v["box"] == [-0.5, -0.5, s["width"] - 0.5, s["height"] - 0.5]
    # A threshold of 0 keeps every detection: real boxes, inside the frame.
    low = str(tmp_path / "low.json")
    detect_persons.run(prepared, low, "synth", "dcn_rfcn_tiny", threshold=0.0, weights=weights,
                       progress=False)
    for v in read_boxes(low)[1]["videos"].values():
        assert not v["fallback"] and v["frames_with_person"] == 6


def test_gluoncv_detector_over_the_videos(prepared, tmp_path):
    from gluoncv import model_zoo
    name = "yolo3_mobilenet0.25_coco"
    net = model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    mx.random.seed(0)
    net.initialize()
    net(mx.nd.zeros((1, 3, 64, 64)))  # complete the deferred initialisation
    weights = str(tmp_path / "yolo.params")
    net.save_parameters(weights)
    videos = detect_persons.run(prepared, str(tmp_path / "boxes.json"), "synth",
                                "gluoncv:" + name, threshold=0.0, weights=weights,
                                frame_stride=3, progress=False)
    assert len(videos) == len(read_index(prepared))
    # Random weights still rank some box as a person in every frame; the union stays inside.
    for s in read_index(prepared):
        v = videos[s["id"]]
        assert v["frames_seen"] == 2 and v["frames_with_person"] == 2 and not v["fallback"]
        assert v["box"][2] <= s["width"] - 0.5 and v["box"][3] <= s["height"] - 0.5


def test_missing_detector_weights_is_a_one_line_error(prepared, tmp_path):
    with pytest.raises(SystemExit, match="rfcn_dcn_coco-0000.params.*--weights"):
        detect_persons.main(["--dataset", "synth", "--prepared", prepared, "--detector",
                             "dcn_rfcn", "--weights", str(tmp_path / "none.params"),
                             "--out", str(tmp_path / "boxes.json")])
    with pytest.raises(SystemExit):
        detect_persons.parse_args(["--dataset", "synth", "--prepared", prepared,
                                   "--detector", "yolo"])


def test_undecodable_video_is_skipped_and_listed(prepared, tmp_path):
    import shutil
    copy = str(tmp_path / "prepared")
    shutil.copytree(prepared, copy)
    samples = read_index(copy)
    with open(os.path.join(copy, samples[0]["path"]), "wb") as f:
        f.write(b"not a video")
    out = str(tmp_path / "boxes.json")
    videos = detect_persons.run(copy, out, "synth", "dcn_rfcn_tiny", threshold=0.0,
                                progress=False)
    assert sorted(videos) == sorted(s["id"] for s in samples[1:])
    with open(out + ".skipped.csv") as f:
        text = f.read()
    assert samples[0]["id"] in text and "not a readable video" in text


def test_shards_cover_every_video_once_and_the_last_merges(prepared, tmp_path):
    whole = detect_persons.run(prepared, str(tmp_path / "whole.json"), "synth", progress=False)
    out = str(tmp_path / "boxes.json")
    parts = []
    for k in (1, 2, 3):
        args = ["--dataset", "synth", "--prepared", prepared, "--out", out, "--shard", f"{k}/3"]
        detect_persons.main(args)
        parts.append(read_boxes(str(tmp_path / f"boxes.shard{k}of3.json"))[0])
        assert os.path.exists(out) == (k == 3)  # only the last shard merges
    assert sum(len(p) for p in parts) == len(whole)
    assert read_boxes(out)[1]["videos"] == whole
    # A stray shard file of another run (fewer videos) is refused, not merged.
    os.remove(out)
    extra = detect_persons.shard_path(out, 1, 3)
    with open(extra) as f:
        record = json.load(f)
    record["videos"].popitem()
    with open(extra, "w") as f:
        json.dump(record, f)
    with pytest.raises(detect_persons.DetectorError, match="do not hold each"):
        detect_persons.merge_shards(prepared, out, 3)
    with pytest.raises(SystemExit):
        detect_persons.parse_args(["--dataset", "synth", "--prepared", prepared,
                                   "--shard", "4/3"])


# Image mode: person detections of a COCO image set, the pose model's test boxes (Table 3).

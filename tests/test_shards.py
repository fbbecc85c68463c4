"""--shard K/N for the per-video stages (data/shards.py): the shards' union is the whole stage,
the last shard merges, and parts that do not hold every video exactly once are refused."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import pseudo_poses
from engine.config import POSE_BASE, load_config
from data import shards, synth
from data.index import read_index, read_splits, write_boxes, write_index
from data.prepare import main as prepare_main
from data.video import write_video
from engine.systems import build_pose_model
from helpers import POSE_TINY


def test_picks_cover_every_item_once():
    items = list(range(11))
    for n in (1, 2, 3, 11, 12):
        picked = [shards.pick(items, (k, n)) for k in range(1, n + 1)]
        assert sorted(sum(picked, [])) == items
    assert shards.pick(items, (2, 3)) == [1, 4, 7, 10]  # every 3rd from the 2nd
    assert shards.part_path("w/boxes.json", 2, 4) == "w/boxes.shard2of4.json"


@pytest.mark.parametrize("found,message", [
    (["a", "b"], "first missing 'c'"),
    (["a", "b", "c", "a"], "first repeated 'a'"),
    (["a", "b", "x"], "first missing 'c'"),
])
def test_check_once_names_the_first_gap(found, message):
    shards.check_once(["c", "a", "b"], ["a", "b", "c"], "parts")  # any order is whole
    with pytest.raises(shards.ShardError, match=message):
        shards.check_once(found, ["a", "b", "c"], "parts")


def test_prepare_in_shards_writes_the_index_of_one_run(tmp_path):
    raw = str(tmp_path / "raw")
    synth.generate(raw, subjects=1, repetitions=1, frames=4, progress=False)
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    prepare_main(["--dataset", "synth", "--raw", raw, "--out", whole, "--workers", "1"])
    for k in (1, 2):
        prepare_main(["--dataset", "synth", "--raw", raw, "--out", parts, "--workers", "1",
                      "--shard", f"{k}/2"])
        assert os.path.exists(os.path.join(parts, "index.jsonl")) == (k == 2)  # the last merges
    assert read_index(parts) == read_index(whole)
    assert read_splits(parts) == read_splits(whole)


@pytest.fixture
def labelling(tmp_path):
    """3 prepared 4-frame videos, boxes for 2 of them, a random tiny pose model's checkpoint."""
    prepared = str(tmp_path / "prepared")
    os.makedirs(os.path.join(prepared, "videos"))
    rng = np.random.RandomState(0)
    samples = []
    for i in range(3):
        write_video(os.path.join(prepared, "videos", f"v{i}.avi"),
                    rng.randint(0, 255, (4, 96, 128, 3)).astype(np.uint8), 10)
        samples.append(dict(id=f"v{i}", path=f"videos/v{i}.avi", label=0, frames=4))
    write_index(prepared, samples)
    boxes = str(tmp_path / "boxes.json")
    box = dict(box=[20, 10, 100, 90], frames_seen=4, frames_with_person=4, fallback=False)
    write_boxes(boxes, "synth", "test", 0.5, {"v0": box, "v2": box})  # v1: no box, skipped
    net = build_pose_model(load_config(POSE_TINY, base=POSE_BASE), [mx.cpu()])
    net(mx.nd.zeros((1, 3, 128, 96)))
    ckpt = str(tmp_path / "pose.params")
    net.save_parameters(ckpt)
    return ["--config", POSE_TINY, "--prepared", prepared, "--boxes", boxes, "--checkpoint", ckpt]


def test_pseudo_poses_in_shards_label_what_one_run_labels(labelling, tmp_path):
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    pseudo_poses.main(labelling + ["--out", whole])
    for k in (1, 2):
        pseudo_poses.main(labelling + ["--out", parts, "--shard", f"{k}/2"])
        assert os.path.exists(os.path.join(parts, "skipped.csv")) == (k == 2)
    for vid in ("v0", "v2"):
        np.testing.assert_array_equal(np.load(os.path.join(whole, vid + ".npy")),
                                      np.load(os.path.join(parts, vid + ".npy")))
    assert not os.path.exists(os.path.join(parts, "v1.npy"))
    with open(os.path.join(whole, "skipped.csv")) as a, \
            open(os.path.join(parts, "skipped.csv")) as b:
        one, merged = a.read(), b.read()
    assert merged == one and "v1" in merged
    # a part file of another run (a video missing) stops the merge with one line
    part = shards.part_path(os.path.join(parts, "done.json"), 1, 2)
    with open(part) as f:
        record = json.load(f)
    record["items"] = []
    with open(part, "w") as f:
        json.dump(record, f)
    with pytest.raises(SystemExit, match="do not hold each of the 3 indexed videos once"):
        pseudo_poses.main(labelling + ["--out", parts, "--shard", "2/2"])

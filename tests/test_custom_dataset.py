"""Your own videos (data/custom.py, docs/custom_dataset.md): bad annotation lists are one-line
errors naming the row, and the docs' worked example runs end to end on a handful of synthetic
videos written in that layout: prepare, person boxes, pseudo-poses from a published pose model,
training, test, and demo_video.py with the dataset's class names."""
import json
import os
import shutil

import mxnet as mx
import pytest

import demo_video
import detect_persons
import eval_action
import pseudo_poses
import train_action
from engine.config import config_path
from data import custom, synth
from data.index import read_index
from data.prepare import main as prepare_main

CLASSES = ["wave", "walk", "throw"]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return str(path)


@pytest.fixture
def videos(tmp_path):
    """Three empty 'videos' (the list checks only that files exist) and a classes file."""
    for name in ("wave/a.mp4", "wave/b.mp4", "walk/c.mp4"):
        write(tmp_path / "v" / name, "x")
    write(tmp_path / "classes.txt", "\n".join(CLASSES) + "\n")
    return tmp_path


def read(videos, text, classes=True, splits=None):
    listed = write(videos / "list.csv", text)
    return custom.read_list(listed, str(videos / "v"),
                            str(videos / "classes.txt") if classes else None,
                            write(videos / "splits.csv", splits) if splits else None)


def test_a_good_list(videos):
    samples, classes = read(videos, "path,label,split,subject\nwave/a.mp4,wave,train,3\n"
                                    "walk/c.mp4,1,test,4\n")
    assert classes == CLASSES
    assert [(s["id"], s["label"], s["split"], s["subject"]) for s in samples] == [
        ("wave__a", 0, "train", "3"), ("walk__c", 1, "test", "4")]
    samples, classes = read(videos, "path,label,split\nwave/a.mp4,wave,train\n"
                                    "walk/c.mp4,walk,test\n", classes=False)
    assert classes == ["walk", "wave"] and [s["label"] for s in samples] == [1, 0]


def test_splits_from_a_split_file(videos):
    samples, _ = read(videos, "path,label\nwave/a.mp4,wave\nwalk/c.mp4,walk\n",
                      splits="path,split\nwave/a.mp4,test\nwalk/c.mp4,train\n")
    assert [s["split"] for s in samples] == ["test", "train"]


@pytest.mark.parametrize("text, splits, message", [
    ("path,label,split\nwave/a.mp4,wave,train\nwave/zz.mp4,wave,test\n", None,
     r"list\.csv:3: no video .*wave/zz\.mp4$"),
    ("path,label,split\nwave/a.mp4,wave,train\nwalk/c.mp4,jump,test\n", None,
     r"list\.csv:3: label 'jump' is not a class of .*classes\.txt \(3 classes\)$"),
    ("path,label,split\nwave/a.mp4,wave,train\nwalk/c.mp4,7,test\n", None,
     r"list\.csv:3: label 7 is outside .*classes\.txt's 0\.\.2$"),
    ("path,label,split\nwave/a.mp4,wave,train\nwave/b.mp4,wave,train\n", None,
     r"list\.csv: no video in the test split$"),
    ("path,label,split\nwave/a.mp4,wave,train\nwave/a.mp4,wave,test\n", None,
     r"list\.csv:3: wave/a\.mp4 is listed again \(first on row 2\)$"),
    ("path,label,split\nwave/a.mp4,wave,val\n", None, r"list\.csv:2: split 'val'; it is train"),
    ("file,label,split\nwave/a.mp4,wave,train\n", None,
     r"list\.csv:1: the first row must name the columns path,label"),
    ("path,label\nwave/a.mp4,wave\n", None, r"list\.csv has no split column: add one"),
    ("path,label,split\nwave/a.mp4,wave\n", None, r"list\.csv:2: 2 fields, the header names 3$"),
    ("path,label\nwave/a.mp4,wave\nwalk/c.mp4,walk\n", "path,split\nwave/a.mp4,test\n",
     r"list\.csv:3: walk/c\.mp4 has no row in .*splits\.csv$"),
])
def test_a_bad_list_is_one_line_naming_the_row(videos, text, splits, message):
    with pytest.raises(ValueError, match=message) as err:
        read(videos, text, splits=splits)
    assert "\n" not in str(err.value)


def test_a_bad_list_stops_prepare_with_one_line_and_no_folder(videos, capsys):
    write(videos / "list.csv", "path,label,split\nwave/a.mp4,wave,train\nwave/gone.mp4,wave,test\n")
    out = videos / "prepared"
    with pytest.raises(SystemExit, match=r"^error: .*list\.csv:3: no video .*gone\.mp4$"):
        prepare_main(["--dataset", "custom", "--raw", str(videos / "v"), "--list",
                      str(videos / "list.csv"), "--out", str(out)])
    assert not out.exists()


# ---- the worked example of docs/custom_dataset.md, on synthetic videos -----------------------
@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """myvideos/CLASS/NAME.avi and myvideos/list.csv: three of the synthetic actions, views 1-2
    training and view 3 testing, 9 videos of 12 frames (no ground truth beside them)."""
    root = tmp_path_factory.mktemp("custom")
    raw = str(root / "synth")
    synth.generate(raw, subjects=1, repetitions=1, frames=12, classes=3, progress=False)
    rows = ["path,label,split,subject,view"]
    for f in sorted(os.listdir(raw)):
        if not f.endswith(".avi"):
            continue
        fields = synth.parse(os.path.splitext(f)[0])
        action = synth.CLASSES[fields["label"]]
        rel = f"{action}/{f}"
        os.makedirs(root / "myvideos" / action, exist_ok=True)
        shutil.copyfile(os.path.join(raw, f), root / "myvideos" / rel)
        split = "test" if fields["view"] == 3 else "train"
        rows.append(f"{rel},{action},{split},{fields['subject']},{fields['view']}")
    write(root / "myvideos" / "list.csv", "\n".join(rows) + "\n")
    return root


def test_the_worked_example_end_to_end(example, tmp_path):
    from gluoncv import model_zoo
    work, runs = tmp_path / "work", str(tmp_path / "runs")
    prepared, boxes, poses = (str(work / "custom" / p) for p in
                              ("prepared", "boxes.json", "poses"))
    # 1. prepare: shorter side 64 px here (256 by default)
    prepare_main(["--dataset", "custom", "--raw", str(example / "myvideos"), "--list",
                  str(example / "myvideos" / "list.csv"), "--short-side", "64",
                  "--out", prepared, "--workers", "1"])
    samples = read_index(prepared)
    assert len(samples) == 9 and {s["split"] for s in samples} == {"train", "test"}
    assert custom.load(prepared).CLASSES == tuple(sorted(synth.CLASSES[:3]))  # no classes file
    assert min(samples[0]["width"], samples[0]["height"]) == 64
    # 2. person boxes: any detector (here the tiny R-FCN, random weights: the plumbing)
    detect_persons.main(["--dataset", "custom", "--prepared", prepared, "--detector",
                         "dcn_rfcn_tiny", "--frame-stride", "6", "--out", boxes])
    # 3. pseudo-poses from a published pose model (random weights of its architecture here)
    mx.random.seed(0)
    net = model_zoo.get_model("simple_pose_resnet18_v1b", pretrained=False,
                              pretrained_base=False)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 256, 192)))
    weights = str(tmp_path / "simple_pose_resnet18_v1b.params")
    net.save_parameters(weights)
    pseudo_poses.main(["--pose-model", "gluoncv:simple_pose_resnet18_v1b", "--weights", weights,
                       "--prepared", prepared, "--boxes", boxes, "--out", poses, "--no-flip"])
    # 4. train and test the KPS row at toy size
    sizes = [f"data.prepared={prepared}", f"data.boxes={boxes}", f"data.poses={poses}",
             f"runs={runs}", "model.name=action_machine_tiny", "model.pretrained=null",
             "model.options.num_classes=3", "data.size=64", "data.clip_len=4",
             "data.workers=0", "train.epochs=1", "train.batch_size=3", "train.lr_steps=[]",
             "eval.num_clips=2"]
    config = config_path("custom_list_kps")
    train_action.main(["--config", config] + sizes)
    results = eval_action.main(["--config", config] + sizes)
    assert results["videos"] == results["test_videos"] == 3
    assert set(results["per_class"]["rgb"]) == set(synth.CLASSES[:3])
    # 5. one video end to end, top-5 in the dataset's class names
    out = str(tmp_path / "demo_video")
    video = os.path.join(example, "myvideos", synth.CLASSES[0],
                         sorted(os.listdir(example / "myvideos" / synth.CLASSES[0]))[0])
    demo_video.main([video, "--checkpoint", os.path.join(runs, "custom_list_kps",
                                                         "final.params"),
                     "--detector", "dcn_rfcn_tiny", "--out", out, "--max-frames", "12"])
    stem = os.path.splitext(os.path.basename(video))[0]
    with open(os.path.join(out, f"{stem}_predictions.json")) as f:
        predictions = json.load(f)
    names = {p["action"] for head in predictions["top5"].values() for p in head}
    assert names == set(synth.CLASSES[:3])  # 3 classes: each head's top 5 lists all three


def test_a_wrong_class_count_is_refused_with_the_right_one(example, tmp_path):
    prepared = str(tmp_path / "prepared")
    prepare_main(["--dataset", "custom", "--raw", str(example / "myvideos"), "--list",
                  str(example / "myvideos" / "list.csv"), "--short-side", "64",
                  "--out", prepared, "--workers", "1"])
    with pytest.raises(SystemExit, match=r"model\.options\.num_classes is 10, but .* holds 3 "
                                         r"classes: set model\.options\.num_classes=3$"):
        train_action.main(["--config", config_path("custom_list_rgb_person_crop"),
                           f"data.prepared={prepared}", "data.crop=frame", f"out={tmp_path}/o"])

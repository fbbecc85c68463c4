"""The COCO pose stage: dataset crops and targets, scoring against pycocotools, the crop <->
image round trip, and train_pose / eval_coco end to end on the synthetic COCO set."""
import json
import os

import numpy as np
import pytest

import eval_coco
import train_pose
from engine.metrics.coco import STAT_NAMES, score
from data.coco import CocoPose, crop_box
from data.pose_targets import encode_pose
from data.synth import generate_coco
from data.transforms import apply_affine
from helpers import nan_pose_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "configs", "pose", "synth_tiny.yaml")


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("coco"))
    counts = generate_coco(out, subjects=2, val_subjects=1, frames=12, every=6, progress=False)
    assert counts == {"train": 60, "val": 60}  # 10 actions x 1 subject x 3 views x 2 frames
    return out


def ann(coco, split):
    return os.path.join(coco, f"person_keypoints_{split}.json")


def gt_results(path, jitter=0.0, seed=0):
    rng = np.random.RandomState(seed)
    with open(path) as f:
        anns = json.load(f)["annotations"]
    out = []
    for a in anns:
        k = np.array(a["keypoints"], np.float32).reshape(-1, 3)
        k[:, :2] += rng.normal(0, jitter, size=(len(k), 2))
        out.append(dict(image_id=a["image_id"], category_id=1, score=float(rng.uniform(0.5, 1)),
                        keypoints=[float(v) for v in k.reshape(-1)]))
    return out


def test_ground_truth_as_results_scores_ap_1(coco, tmp_path, capsys):
    path = str(tmp_path / "gt.json")
    with open(path, "w") as f:
        json.dump(gt_results(ann(coco, "val")), f)
    stats = eval_coco.main(["--ann", ann(coco, "val"), "--results", path])
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    assert "| 100.0 |" in capsys.readouterr().out


def test_score_equals_pycocotools_run_directly(coco, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    path = str(tmp_path / "noisy.json")
    with open(path, "w") as f:
        json.dump(gt_results(ann(coco, "val"), jitter=2.0), f)
    gt = COCO(ann(coco, "val"))
    ev = COCOeval(gt, gt.loadRes(path), "keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    ours = score(ann(coco, "val"), path)
    assert 0.05 < ours["AP"] < 0.99  # a real, non-trivial score
    assert [ours[k] for k in STAT_NAMES] == pytest.approx(list(ev.stats))


def test_crop_box_is_4_by_3_around_the_box():
    centre, (w, h) = crop_box([10, 20, 30, 100])
    assert centre == (25, 70) and h == 100 and w == pytest.approx(75)
    centre, (w, h) = crop_box([0, 0, 90, 30])
    assert w == 90 and h == pytest.approx(120)


def test_train_items_carry_targets_of_the_transformed_keypoints(coco):
    ds = CocoPose(ann(coco, "train"), os.path.join(coco, "images"), input_size=(96, 128),
                  scale=0, rotation=0, flip=False)
    image, heat, offsets, weights = ds[3]
    assert image.shape == (3, 128, 96) and heat.shape == (17, 16, 12)
    kps = apply_affine(ds.records[3]["keypoints"], ds.matrix(3))
    h, o, w = encode_pose(kps, (16, 12), 8, ds.radius)
    np.testing.assert_array_equal(heat, h)
    np.testing.assert_allclose(offsets, o)


def test_maps_of_the_true_keypoints_go_back_to_the_image(coco):
    """Crop -> maps -> decode -> image: the inverse of the box-to-crop transform."""
    ds = CocoPose(ann(coco, "val"), os.path.join(coco, "images"), mode="test",
                  input_size=(96, 128))
    with open(ann(coco, "val")) as f:
        truth = {a["image_id"]: np.array(a["keypoints"]).reshape(-1, 3)
                 for a in json.load(f)["annotations"]}
    idx = np.arange(len(ds))
    maps = [encode_pose(apply_affine(truth[ds.records[i]["image_id"]], ds.matrix(i)), (16, 12),
                        8, ds.radius) for i in idx]
    heat = np.stack([m[0] for m in maps]) * 20 - 10
    offsets = np.stack([m[1] for m in maps])
    results = eval_coco.maps_to_results(ds, idx, heat, offsets, 8)
    for r in results:
        got = np.array(r["keypoints"]).reshape(-1, 3)
        np.testing.assert_allclose(got[:, :2], truth[r["image_id"]][:, :2], atol=0.05)
    assert score(ann(coco, "val"), results)["AP"] == pytest.approx(1.0)


def pose_args(coco, out):
    return ["--config", TINY, f"data.train_ann={ann(coco, 'train')}",
            f"data.val_ann={ann(coco, 'val')}", f"data.train_images={coco}/images",
            f"data.val_images={coco}/images", f"out={out}", "train.epochs=2",
            "train.lr_steps=[1]", "data.workers=0"]


def test_train_pose_then_eval_coco(coco, tmp_path):
    out = str(tmp_path / "pose")
    args = pose_args(coco, out)
    final = train_pose.main(args)
    assert os.path.isfile(final)
    epochs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
              if '"kind": "epoch"' in l]
    assert len(epochs) == 2 and all(np.isfinite(e["loss_kps"]) for e in epochs)
    stats = eval_coco.main(args)
    assert set(STAT_NAMES) <= set(stats) and 0.0 <= stats["AP"] <= 1.0
    # A detections file (COCO results format) holding the ground-truth boxes, plus one non-person
    # detection that must be ignored (and counted), gives the same keypoints as the ground-truth
    # boxes.
    with open(ann(coco, "val")) as f:
        dets = [dict(image_id=a["image_id"], category_id=1, bbox=a["bbox"], score=1.0)
                for a in json.load(f)["annotations"]]
    dets.append(dict(image_id=dets[0]["image_id"], category_id=3, bbox=[0, 0, 9, 9], score=1.0))
    det_file = str(tmp_path / "dets.json")
    with open(det_file, "w") as f:
        json.dump(dets, f)
    from_dets = eval_coco.main(args + [f"data.detections={det_file}"])
    assert from_dets["AP"] == pytest.approx(stats["AP"]) and from_dets["boxes"] == det_file
    with open(os.path.join(out, "eval_coco.log")) as f:
        assert "60 person boxes; dropped 1 boxes of other categories" in f.read()
    untrained = eval_coco.main(args + ["--untrained"])
    assert untrained["checkpoint"] == "untrained"
    assert os.path.isfile(os.path.join(out, "coco_eval_untrained.json"))
    with open(os.path.join(out, "keypoints_val.json")) as f:
        assert len(json.load(f)) == 60  # one result per ground-truth box
    # a checkpoint evaluated at another input size would decode to wrong pixels: refused
    with pytest.raises(SystemExit) as exit_:
        eval_coco.main(args + ["data.input_size=[64,96]"])
    assert "was trained with data.input_size" in str(exit_.value.code)


def test_a_nan_model_is_an_error_not_a_score(coco, tmp_path, capsys):
    """pycocotools counts NaN keypoints as a perfect match: a NaN model used to score AP 100."""
    out = str(tmp_path / "pose")
    ckpt = nan_pose_checkpoint(str(tmp_path / "nan.params"))
    with pytest.raises(SystemExit) as exit_:
        eval_coco.main(pose_args(coco, out) + [f"eval.checkpoint={ckpt}"])
    line = str(exit_.value.code)
    assert line.startswith(f"error: {ckpt} outputs non-finite heatmaps") and "\n" not in line
    first_image = CocoPose(ann(coco, "val"), f"{coco}/images", mode="test").records[0]["image_id"]
    assert f"for image {first_image}:" in line
    assert "AP" not in capsys.readouterr().out
    assert not os.path.exists(os.path.join(out, "keypoints_val.json"))
    assert not os.path.exists(os.path.join(out, "coco_eval.json"))


def test_a_bad_detections_file_is_an_error_not_a_score(coco, tmp_path):
    with open(ann(coco, "val")) as f:
        dets = [dict(image_id=a["image_id"], category_id=1, bbox=a["bbox"], score=1.0)
                for a in json.load(f)["annotations"]]
    dets[4]["bbox"][2] = float("nan")  # used to be dropped silently, the rest scored
    det_file = str(tmp_path / "dets.json")
    with open(det_file, "w") as f:
        json.dump(dets, f)
    out = str(tmp_path / "pose")
    args = pose_args(coco, out) + [f"data.detections={det_file}", "--untrained"]
    with pytest.raises(SystemExit) as exit_:
        eval_coco.main(args)
    assert str(exit_.value.code) == (f"error: {det_file}: detections[4]: bbox holds a non-finite "
                                     f"value (NaN) at index 2")
    assert not os.path.exists(os.path.join(out, "keypoints_val_untrained.json"))

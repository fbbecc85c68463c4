"""detect_persons.py's image mode (--images --ann, COCO results for eval_coco), the detector's
bad weights and detections files: one-line errors, never a silent fallback."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

import detect_persons
from data import synth
from engine.stages import image_boxes
from engine.stages.person_boxes import video_box


def test_coco_results_are_xywh_inside_the_image():
    from data.coco_detections import to_coco_results
    dets = np.array([[10, 20, 29, 59, 0.9],  # inside
                     [-5, -3, 200, 50, 0.5],  # past the left, top and right edges
                     [70, 10, 70, 5, 0.3]])  # y2 < y1: nothing left
    inclusive = to_coco_results(7, dets, 100, 80, inclusive=True)
    assert [r["bbox"] for r in inclusive] == [[10, 20, 20, 40], [0, 0, 100, 51]]
    assert [r["score"] for r in inclusive] == [0.9, 0.5]
    assert all(r["image_id"] == 7 and r["category_id"] == 1 for r in inclusive)
    continuous = to_coco_results(7, dets, 100, 80)
    assert [r["bbox"] for r in continuous] == [[10, 20, 19, 39], [0, 0, 100, 50]]


@pytest.fixture(scope="module")
def coco_images(tmp_path_factory):
    """A few synthetic COCO val images, one more copied at another size (a batch then holds
    two sizes), and a crowd region the gt detector must leave out. -> (ann path, images dir)."""
    import cv2
    root = str(tmp_path_factory.mktemp("coco"))
    synth.generate_coco(root, subjects=2, val_subjects=1, frames=6, every=6, progress=False)
    with open(os.path.join(root, "person_keypoints_val.json")) as f:
        data = json.load(f)
    data["images"], data["annotations"] = data["images"][:4], data["annotations"][:4]
    first = data["images"][0]
    image = cv2.imread(os.path.join(root, "images", first["file_name"]))
    cv2.imwrite(os.path.join(root, "images", "wide.jpg"), cv2.resize(image, (240, 120)))
    data["images"].append(dict(id=999, file_name="wide.jpg", width=240, height=120))
    data["annotations"].append(dict(id=999, image_id=999, category_id=1, iscrowd=1,
                                    bbox=[0, 0, 50, 50], area=2500, num_keypoints=0,
                                    keypoints=[0] * 51))
    ann = os.path.join(root, "val.json")
    with open(ann, "w") as f:
        json.dump(data, f)
    return ann, os.path.join(root, "images")


def load_results(ann, path):
    from pycocotools.coco import COCO
    with open(ann) as f:
        images = {im["id"]: im for im in json.load(f)["images"]}
    gt = COCO(ann)
    return images, gt.loadRes(path)  # pycocotools' own check of the results format


def test_image_mode_with_the_tiny_detector_writes_coco_results(coco_images, tmp_path):
    """COCO results of the toy R-FCN equal its own boxes converted by hand ((x1, y1, x2, y2)
    inclusive -> (x, y, x2 - x1 + 1, y2 - y1 + 1)), on every image, inside it."""
    from data.coco import read_image
    from symbols.detector import rfcn
    ann, folder = coco_images
    net = rfcn.get_detector("dcn_rfcn_tiny")
    weights = str(tmp_path / "tiny.params")
    rfcn.save_release_params(net, weights)
    out = str(tmp_path / "dets.json")
    detect_persons.main(["--images", folder, "--ann", ann, "--detector", "dcn_rfcn_tiny",
                         "--weights", weights, "--threshold", "0", "--batch-size", "3",
                         "--out", out])
    images, res = load_results(ann, out)
    anns = res.loadAnns(res.getAnnIds())
    assert {a["image_id"] for a in anns} == set(images)  # random weights: boxes everywhere
    assert all(a["category_id"] == 1 for a in anns)
    for i, im in images.items():
        got = sorted((a["score"], a["bbox"]) for a in anns if a["image_id"] == i)
        dets = rfcn.detect(net, read_image(os.path.join(folder, im["file_name"]))[None])[0]
        want = []
        for x1, y1, x2, y2, s in dets.astype(np.float64):
            x2, y2 = min(x2 + 1, im["width"]), min(y2 + 1, im["height"])
            want.append((float(s), [x1, y1, x2 - x1, y2 - y1]))
        assert len(got) == len(want)
        for (gs, gb), (ws, wb) in zip(got, sorted(want)):
            assert gs == pytest.approx(ws) and gb == pytest.approx(wb, abs=1e-4)
            x, y, w, h = gb
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert x + w <= im["width"] + 1e-6 and y + h <= im["height"] + 1e-6


def test_image_mode_keeps_the_boxes_of_at_least_the_threshold(coco_images, tmp_path,
                                                              monkeypatch):
    # Random R-FCN weights score every box alike (1/81), so a stand-in detector with known
    # scores: three boxes an image.
    def known_scores(frames):
        return [np.array([[1, 2, 30, 40, s] for s in (0.2, 0.5, 0.8)], np.float32)
                for _ in frames]
    monkeypatch.setattr(image_boxes, "build_detector", lambda *args: known_scores)
    ann, folder = coco_images
    kept = image_boxes.detect_images(ann, folder, str(tmp_path / "d.json"), "dcn_rfcn", 0.5,
                                     progress=False)
    assert len(kept) == 2 * 5
    assert sorted({round(r["score"], 6) for r in kept}) == [0.5, 0.8]


def test_image_mode_gt_detector_gives_the_annotated_person_boxes(coco_images, tmp_path):
    ann, folder = coco_images
    out = str(tmp_path / "gt.json")
    detect_persons.main(["--images", folder, "--ann", ann, "--detector", "gt", "--out", out])
    images, res = load_results(ann, out)
    with open(ann) as f:
        truth = sorted((a["image_id"], a["bbox"]) for a in json.load(f)["annotations"]
                       if not a["iscrowd"])
    got = sorted((a["image_id"], a["bbox"]) for a in res.loadAnns(res.getAnnIds()))
    assert len(got) == len(truth) == 4
    for (gi, gb), (ti, tb) in zip(got, truth):
        assert gi == ti and gb == pytest.approx(tb, abs=1e-4)
    assert all(a["score"] == 1.0 for a in res.loadAnns(res.getAnnIds()))
    # The box AP the run logs, from pycocotools: 1 for these boxes, 0 once moved off them.
    from engine.metrics.coco import person_box_ap
    with open(out) as f:
        results = json.load(f)
    assert person_box_ap(ann, results) == pytest.approx(1.0)
    for r in results:
        r["bbox"][0] += r["bbox"][2]
    assert person_box_ap(ann, results) == pytest.approx(0.0)


def test_image_mode_defaults_match_the_pose_config():
    from engine.config import CONFIG_DIR, POSE_BASE, load_config
    config = os.path.join(CONFIG_DIR, "pose", "coco_r50_384x288.yaml")
    args = detect_persons.parse_args(["--images", "work/coco/val2017", "--ann", "a.json"])
    # Not the videos' 0.99 (see detect_persons' docstring) and the paper's detector.
    assert (args.detector, args.threshold) == ("dcn_rfcn", 0.05)
    cfg = load_config(config, base=POSE_BASE)
    assert image_boxes.images_out("work/coco/val2017/") == \
        os.path.abspath(cfg["data"]["detections"])
    gt_boxes = load_config(config, ["data.detections=null"], base=POSE_BASE)
    assert gt_boxes["data"]["detections"] is None
    video = detect_persons.parse_args(["--dataset", "synth", "--prepared", "p"])
    assert (video.detector, video.threshold) == ("gt", 0.99)
    for wrong in (["--images", "i"], ["--images", "i", "--ann", "a", "--prepared", "p"], []):
        with pytest.raises(SystemExit):
            detect_persons.parse_args(wrong)


def test_image_mode_input_errors_are_one_line(coco_images, tmp_path):
    import shutil
    ann, folder = coco_images
    args = ["--ann", ann, "--detector", "gt", "--out", str(tmp_path / "d.json")]
    with pytest.raises(SystemExit, match="^error: --ann: no such file"):
        detect_persons.main(["--images", folder, "--ann", str(tmp_path / "none.json"),
                             "--detector", "gt"])
    copy = str(tmp_path / "images")
    shutil.copytree(folder, copy)
    os.remove(os.path.join(copy, "wide.jpg"))
    with pytest.raises(SystemExit, match=r"^error: 1 of the 5 images .* missing, e\.g\. .*wide"):
        detect_persons.main(["--images", copy] + args)
    with open(os.path.join(copy, "wide.jpg"), "wb") as f:
        f.write(b"not an image")
    with pytest.raises(SystemExit, match="^error: cannot read image .*wide.jpg"):
        detect_persons.main(["--images", copy] + args[:2] + ["--detector", "dcn_rfcn_tiny"])
    assert not os.path.exists(tmp_path / "d.json")


def test_bad_weights_file_is_one_line_and_exit_1_not_a_traceback(coco_images, tmp_path):
    import subprocess
    import sys
    ann, folder = coco_images
    weights = tmp_path / "garbage.params"
    weights.write_bytes(b"not a parameter file")
    done = subprocess.run([sys.executable, os.path.abspath(detect_persons.__file__), "--images", folder, "--ann", ann,
                           "--detector", "dcn_rfcn_tiny", "--weights", str(weights),
                           "--out", str(tmp_path / "d.json")],
                          capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert not any(line.startswith("Traceback") for line in lines)  # no Python traceback
    last = lines[-1]
    assert last.startswith("error: ") and "garbage.params" in last and "not an MXNet" in last


def test_gluoncv_weights_that_do_not_fit_are_a_detector_error(tmp_path):
    from symbols.detector.person_detector import get_person_detector
    garbage = tmp_path / "garbage.params"
    garbage.write_bytes(b"not a parameter file")
    other = str(tmp_path / "other.params")
    mx.nd.save(other, {"some_weight": mx.nd.zeros((2,))})
    # MXNet's load error (its last line) and Gluon's assertion on a name the model lacks.
    for weights, reason in ((garbage, "Invalid NDArray file format"),
                            (other, "some_weight|does not start with")):
        with pytest.raises(detect_persons.DetectorError, match=f"does not fit the model .*({reason})"):
            get_person_detector("gluoncv:yolo3_mobilenet0.25_coco", str(weights))


def test_person_detections_file_round_trip(tmp_path):
    from data.coco_detections import read_person_detections, write_person_detections
    path = str(tmp_path / "d.json")
    person = dict(image_id=1, category_id=1, bbox=[1.0, 2.0, 3.0, 4.0], score=0.5)
    write_person_detections(path, [person, dict(person, category_id=3)])
    assert read_person_detections(path) == [person]  # other categories left out
    with pytest.raises(FileNotFoundError, match="detect_persons.py --images.*detections=null"):
        read_person_detections(str(tmp_path / "none.json"))


def test_non_finite_detections_are_an_error_not_a_full_frame_fallback():
    boxes = [np.array([[1.0, 2.0, 30.0, 40.0]]), np.array([[np.nan, 2.0, 30.0, 40.0]])]
    scores = [np.array([0.999]), np.array([0.999])]
    with pytest.raises(FloatingPointError, match="non-finite"):
        video_box(boxes, scores, 0.99, 64, 48)
    with pytest.raises(FloatingPointError, match="non-finite"):
        video_box(boxes[:1], [np.array([np.nan])], 0.99, 64, 48)

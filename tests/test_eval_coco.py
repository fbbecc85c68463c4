"""The checks of what the COCO scores read (engine/metrics/coco.py): results and detections are
validated against the ground truth before pycocotools sees them, and a bad file is one line of
eval_coco.py, never a traceback or a score. On a hand-made two-image ground truth; the scores
themselves are in test_coco.py."""
import json
import math
import os
import subprocess
import sys

import pytest

import eval_coco
from engine.metrics import coco

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K = 17


def person(image_id):
    kps = [float(v) for j in range(K) for v in (10 + 3 * j, 20 + 5 * j, 2)]
    return dict(id=image_id, image_id=image_id, category_id=1, iscrowd=0, num_keypoints=K,
                bbox=[10.0, 20.0, 48.0, 80.0], area=48.0 * 80.0, keypoints=kps)


@pytest.fixture
def ann(tmp_path):
    gt = dict(images=[dict(id=i, file_name=f"{i}.jpg", width=96, height=128) for i in (1, 2)],
              annotations=[person(1), person(2)],
              categories=[dict(id=1, name="person", keypoints=[f"k{j}" for j in range(K)],
                               skeleton=[])])
    path = str(tmp_path / "gt.json")
    with open(path, "w") as f:
        json.dump(gt, f)
    return path


def good_results():
    return [dict(image_id=a["image_id"], category_id=1, keypoints=list(a["keypoints"]),
                 score=0.9) for a in (person(1), person(2))]


def spoil(change):
    """The good results with ``change`` applied to entry 1."""
    results = good_results()
    change(results[1])
    return results


def set_item(key, value):
    return lambda r: r.__setitem__(key, value)


def set_keypoint(j, value):
    return lambda r: r["keypoints"].__setitem__(j, value)


BAD_RESULTS = {
    "nan keypoint": (spoil(set_keypoint(5, math.nan)),
                     "results[1]: keypoints hold a non-finite value (NaN) at index 5"),
    "inf keypoint": (spoil(set_keypoint(0, -math.inf)),
                     "results[1]: keypoints hold a non-finite value (-Infinity) at index 0"),
    "text keypoint": (spoil(set_keypoint(4, "12")),
                      "results[1]: keypoints hold a non-number ('12') at index 4"),
    "nan score": (spoil(set_item("score", math.nan)),
                  "results[1]: score is a non-finite value (NaN)"),
    "missing key": (spoil(lambda r: r.pop("keypoints")), "results[1] has no 'keypoints'"),
    "unknown image": (spoil(set_item("image_id", 999)),
                      "results[1]: image_id 999 is not one of the 2 images of the ground truth"),
    "category 2": (spoil(set_item("category_id", 2)),
                   "results[1]: category_id 2 is not the ground truth's person category (1)"),
    "50 keypoint values": (spoil(lambda r: r["keypoints"].pop()),
                           "results[1]: keypoints must be a list of 51 numbers (x, y, v for each "
                           "of 17 keypoints), not 50 values"),
    "entry not a dict": (good_results()[:1] + [[1, 2]], "results[1] is not a dict but a list"),
    "not a list": ({"annotations": good_results()},
                   "results must be a JSON list of dicts, not a dict"),
    "empty": ([], "results is an empty list"),
}


@pytest.mark.parametrize("case", sorted(BAD_RESULTS))
def test_bad_results_are_an_error_not_a_score(ann, case):
    results, message = BAD_RESULTS[case]
    with pytest.raises(ValueError) as err:
        coco.score(ann, results)
    assert str(err.value) == message


def test_the_first_bad_entry_is_named():
    results = good_results() + good_results()
    results[1]["keypoints"][7] = math.nan
    del results[3]["score"]
    truth = coco.Truth({1, 2}, 1, K)
    with pytest.raises(ValueError, match=r"^results\[1\]: keypoints hold .* at index 7$"):
        coco.check_results(results, truth)


def test_good_results_pass_the_check_and_score_ap_1(ann):
    # pycocotools itself: identical keypoints have OKS 1 at every threshold.
    assert coco.score(ann, good_results())["AP"] == pytest.approx(1.0)


def run_script(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "eval_coco.py"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("content, expected", [
    # json.dump writes the bare NaN of a broken model's output, as the old eval_coco did.
    (json.dumps(spoil(set_keypoint(5, math.nan))),
     "results[1]: keypoints hold a non-finite value (NaN) at index 5"),
    ("not json {", "is not a JSON file"),
])
def test_script_with_bad_results_file_prints_one_line(ann, tmp_path, content, expected):
    bad = tmp_path / "results.json"
    bad.write_text(content)
    proc = run_script("--ann", ann, "--results", str(bad))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}") and expected in lines[0]
    assert "AP" not in proc.stdout


@pytest.mark.parametrize("which", ["results", "ann"])
def test_missing_or_non_json_inputs_are_one_line(ann, tmp_path, capsys, which):
    good = str(tmp_path / "good.json")
    with open(good, "w") as f:
        json.dump(good_results(), f)
    not_json = tmp_path / "binary.json"
    not_json.write_bytes(b"\x89PNG\r\n\x1a\n")
    for bad in (str(tmp_path / "missing.json"), str(not_json)):
        args = ["--ann", bad, "--results", good] if which == "ann" else \
            ["--ann", ann, "--results", bad]
        with pytest.raises(SystemExit) as exit_:
            eval_coco.main(args)
        line = str(exit_.value.code)
        assert line.startswith(f"error: {bad}") and "\n" not in line
    assert "AP" not in capsys.readouterr().out


def detection(image_id=1, **change):
    return dict(dict(image_id=image_id, category_id=1, bbox=[10.0, 20.0, 30.0, 40.0],
                     score=0.8), **change)


def test_detections_of_other_categories_are_dropped_and_counted():
    truth = coco.Truth({1, 2}, 1, K)
    no_category = detection(2)
    del no_category["category_id"]  # as before: taken as a person box
    dets = [detection(1), detection(1, category_id=3), no_category, detection(2, category_id=62)]
    people, dropped = coco.check_detections(dets, truth)
    assert people == [dets[0], dets[2]] and dropped == 2


@pytest.mark.parametrize("entry, message", [
    (detection(bbox=[1.0, 2.0, math.nan, 4.0]),
     "detections[1]: bbox holds a non-finite value (NaN) at index 2"),
    (detection(bbox=[1.0, 2.0, 0.0, 4.0]),
     "detections[1]: bbox [1.0, 2.0, 0.0, 4.0] has a width or height <= 0"),
    (detection(bbox=[1.0, 2.0, 3.0]),
     "detections[1]: bbox must be a list [x, y, w, h], not [1.0, 2.0, 3.0]"),
    (detection(score=math.inf), "detections[1]: score is a non-finite value (Infinity)"),
    (detection(image_id=7), "detections[1]: image_id 7 is not one of the 2 images"),
    (detection(category_id=3, bbox=[0, 0, -5, 5]), "detections[1]: bbox [0, 0, -5, 5] has a "
                                                   "width or height <= 0"),
    ({"bbox": [1, 2, 3, 4], "score": 1.0}, "detections[1] has no 'image_id'"),
])
def test_bad_detections_are_an_error(entry, message):
    truth = coco.Truth({1, 2}, 1, K)
    with pytest.raises(ValueError) as err:
        coco.check_detections([detection(2), entry], truth)
    assert str(err.value).startswith(message)


def test_detections_without_a_person_box_are_an_error():
    with pytest.raises(ValueError, match="hold no box of the person category"):
        coco.check_detections([detection(category_id=3)], coco.Truth({1}, 1, K))

"""Person detections on a COCO image set, the test boxes of the pose model (paper Sec. 4.2,
Table 3: "the detected person bounding boxes on COCO val2017 are used").

File format: COCO results, a JSON list of {"image_id", "category_id": 1, "bbox": [x, y, w, h],
"score"}, boxes in COCO's pixel coordinates (a box over pixels 0..W-1 is [0, 0, W, H]) and inside
their image; written by ``write_person_detections`` (detect_persons.py's image mode), read by
``read_person_detections`` (for eval_coco.py's ``data.detections``), and accepted by
pycocotools' ``COCO.loadRes``.
"""
import json
import os

import numpy as np

from common.files import atomic_write_text

PERSON = 1  # COCO's category id of a person


def read_coco_images(ann, images):
    """The images ``ann`` (a COCO annotation file) lists, each found in folder ``images``
    -> (images [dict(id, path, width, height)], ground-truth person boxes {image id: (n, 5)
    [x1, y1, x2, y2, 1]} without crowd regions). Every image is looked for first, so an
    incomplete copy stops before any detection: FileNotFoundError names the first missing one."""
    if not os.path.isfile(ann):
        raise FileNotFoundError(f"--ann: no such file: {ann}")
    if not os.path.isdir(images):
        raise FileNotFoundError(f"--images: no such directory: {images}")
    with open(ann) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{ann}: not a JSON file ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{ann}: not a COCO annotation file (no 'images' list)")
    listed = [dict(id=int(im["id"]), path=os.path.join(images, im["file_name"]),
                   width=int(im["width"]), height=int(im["height"])) for im in data["images"]]
    missing = [im["path"] for im in listed if not os.path.isfile(im["path"])]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of the {len(listed)} images of {ann} are "
                                f"missing, e.g. {missing[0]}")
    boxes = {}
    for a in data.get("annotations", []):
        if a.get("category_id") == PERSON and not a.get("iscrowd", 0):
            x, y, w, h = a["bbox"]
            boxes.setdefault(int(a["image_id"]), []).append([x, y, x + w, y + h, 1.0])
    return listed, {k: np.array(v, np.float32) for k, v in boxes.items()}


def to_coco_results(image_id, dets, width, height, inclusive=False):
    """(n, 5) [x1, y1, x2, y2, score] in image pixels -> COCO results, clipped to the image.
    ``inclusive``: x2, y2 are the last pixels inside the box (the R-FCN release's convention,
    width = x2 - x1 + 1), so the box reaches one pixel further in COCO's coordinates."""
    dets = np.asarray(dets, np.float64).reshape(-1, 5)
    end = 1.0 if inclusive else 0.0
    x1, x2 = np.clip(dets[:, 0], 0, width), np.clip(dets[:, 2] + end, 0, width)
    y1, y2 = np.clip(dets[:, 1], 0, height), np.clip(dets[:, 3] + end, 0, height)
    return [dict(image_id=int(image_id), category_id=PERSON,
                 bbox=[float(x1[i]), float(y1[i]), float(x2[i] - x1[i]), float(y2[i] - y1[i])],
                 score=float(dets[i, 4]))
            for i in range(len(dets)) if x2[i] > x1[i] and y2[i] > y1[i]]


def write_person_detections(path, results):
    atomic_write_text(path, json.dumps(results))


def read_person_detections(path):
    """The person boxes of a COCO results file (other categories are left out)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no person detections file {path}: run detect_persons.py "
                                f"--images ... --ann ... first, or set data.detections=null "
                                f"for ground-truth boxes")
    with open(path) as f:
        try:
            results = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a JSON file ({err})") from err
    return [r for r in results if r.get("category_id", PERSON) == PERSON]

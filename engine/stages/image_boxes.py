"""The person-box stage on a COCO-format image set (``detect_persons.py --images``): every
person box of score >= the threshold, as COCO results, the test boxes eval_coco.py reads; with
the set's annotation, their person-box AP (pycocotools)."""
import logging
import os

import numpy as np

from data.coco import read_image
from data.coco_detections import read_coco_images, to_coco_results, write_person_detections
from common.errors import check_writable
from common.progress import Progress
from engine.metrics.coco import person_box_ap
from engine.stages.person_boxes import build_detector
from symbols.detector.person_detector import inclusive_extents

log = logging.getLogger("detect_persons")


def image_detections(net, chunk, gt_boxes):
    """Per image of ``chunk`` its (n, 5) detections; images of one size share a forward pass
    (the R-FCN takes one size a batch). ``net`` None: the annotation's boxes (``gt``)."""
    if net is None:
        return [gt_boxes.get(im["id"], np.zeros((0, 5), np.float32)) for im in chunk]
    frames, out, sizes = [read_image(im["path"]) for im in chunk], [None] * len(chunk), {}
    for i, (im, frame) in enumerate(zip(chunk, frames)):
        if frame.shape[:2] != (im["height"], im["width"]):  # boxes are clipped to the latter
            raise ValueError(f"{im['path']} is {frame.shape[1]}x{frame.shape[0]}, its "
                             f"annotation says {im['width']}x{im['height']}")
        sizes.setdefault(frame.shape, []).append(i)
    for idx in sizes.values():
        for i, dets in zip(idx, net(np.stack([frames[i] for i in idx]))):
            out[i] = dets
    return out


def detect_images(ann, images, out, detector="dcn_rfcn", threshold=0.05, batch_size=4,
                  weights=None, ctx=None, progress=True, dtype="float32"):
    """Every person box of score >= ``threshold`` on the images ``ann`` lists (found in folder
    ``images``), written to OUT as COCO results. -> the results list."""
    listed, gt_boxes = read_coco_images(ann, images)
    check_writable(os.path.dirname(os.path.abspath(out)))  # before hours of detection
    net = None if detector == "gt" else build_detector(detector, weights, ctx, dtype)
    results, without = [], 0
    bar = Progress(len(listed), "person boxes (images)", log, unit="images",
                   bar=None if progress else False)
    try:
        for start in range(0, len(listed), batch_size):
            chunk = listed[start:start + batch_size]
            for im, dets in zip(chunk, image_detections(net, chunk, gt_boxes)):
                found = to_coco_results(im["id"], dets[dets[:, 4] >= threshold], im["width"],
                                        im["height"], inclusive_extents(detector))
                without += not found
                results += found
            bar.update(len(chunk))
    finally:
        bar.close()
    write_person_detections(out, results)
    log.info("%d images, %d person boxes of score >= %g, %d images without one; detections "
             "in %s", len(listed), len(results), threshold, without, out)
    if results and gt_boxes:
        log.info("person box AP %.1f (pycocotools, against %s)",
                 100 * person_box_ap(ann, results), ann)
    return results


def images_out(images):
    """work/coco/val2017 -> work/coco/person_detections_val2017.json (the pose config's)."""
    folder = os.path.normpath(os.path.abspath(images))
    return os.path.join(os.path.dirname(folder),
                        f"person_detections_{os.path.basename(folder)}.json")

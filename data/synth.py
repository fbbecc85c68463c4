"""The synthetic person-centric benchmark: the project's built-in dataset and demo.

``python -m data.synth --out DIR`` renders videos of an articulated person (17 COCO joints, limbs
with width, a head) doing one of ten actions that differ only in body motion, filmed at once by
three cameras (views 1-3), with per-sample subject proportions, speed, amplitude, position and
scale. Names follow N-UCLA (a{AA}_s{SS}_e{EE}_v{VV}.avi), so the xview1/2/3 protocols apply.
Beside each video, {id}.npz holds its per-frame ground truth: keypoints (T, 17, 3) as
(x, y, visible) and person boxes (T, 4) in pixels, the 3D joints (T, 17, 3) in the camera's
millimetres for a person ``person_height_mm`` tall and the camera's intrinsics, whose projection
of the 3D joints the keypoints are (data/synth_body.py), plus the background object's class and
box (formats in data/index.py). The three views film one performance: the same 3D skeleton,
seen from three camera poses.

Scene bias, the paper's point in miniature: every class has a typical background object. In every
view but ``test_view`` it appears with probability ``bias`` (else another class's object); in
``test_view`` the object is drawn at random. The object stands away from the person, outside the
person's square crop, so a model that looks at the scene is fooled on the test view and a
person-centric one is not. Use the protocol xview{test_view} (default xview3).

As a dataset adapter it has the same fields as data/ntu.py and friends. Every file is written
whole or not at all (data/index.py), so a full disk stops the run with one line naming the path
and a rerun renders only what is missing.
"""
import argparse
import json
import logging
import os

import cv2
import numpy as np
from tqdm import tqdm

from common.errors import exit_on_error

from . import nucla
from common.files import atomic_write_bytes, atomic_write_text
from .index import write_annotation
from .synth_body import (
    ACTIONS,
    PERSON_HEIGHT_MM,
    K,
    camera,
    draw_person,
    project,
    random_body,
    skeleton,
    stature,
)
from .transforms import square_box, union_box
from .video import write_video

NAME = "synth"
RESIZE = (192, 144)  # rendered at this size: prepare keeps it
FPS = 12
STRIDE = 3
# make demo's and make demo-softargmax's benchmark: 10 actions x 16 subjects x 2 performances x
# 3 views = 960 videos, 320 of them on the test view (one is 0.31 points; at 8 subjects, 0.625).
DEMO_SUBJECTS = 16
VIDEO_EXTS = (".avi",)
CLASSES = ACTIONS
ACTION_CODES = nucla.ACTION_CODES  # N-UCLA's ten codes, one per synthetic action
PROTOCOLS = nucla.PROTOCOLS
VIEW_YAW = {1: -50.0, 2: 0.0, 3: 50.0}  # degrees; each sample adds a little jitter

# Background objects: one (shape, BGR-free RGB colour) per class.
OBJECTS = (("circle", (220, 40, 40)), ("square", (40, 160, 40)), ("triangle", (40, 60, 220)),
           ("diamond", (230, 200, 30)), ("cross", (200, 40, 200)), ("ring", (30, 200, 210)),
           ("hbar", (240, 130, 30)), ("vbar", (120, 60, 20)), ("hexagon", (250, 250, 250)),
           ("tee", (20, 20, 20)))


def parse(stem):
    return nucla.parse(stem, ACTION_CODES)


def draw_object(image, kind, colour, cx, cy, r):
    c, pts = (int(cx), int(cy)), None
    if kind == "circle":
        cv2.circle(image, c, r, colour, -1, cv2.LINE_AA)
    elif kind == "ring":
        cv2.circle(image, c, r, colour, max(2, r // 3), cv2.LINE_AA)
    elif kind == "square":
        cv2.rectangle(image, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), colour, -1)
    elif kind == "hbar":
        cv2.rectangle(image, (c[0] - r, c[1] - r // 3), (c[0] + r, c[1] + r // 3), colour, -1)
    elif kind == "vbar":
        cv2.rectangle(image, (c[0] - r // 3, c[1] - r), (c[0] + r // 3, c[1] + r), colour, -1)
    elif kind == "cross":
        cv2.line(image, (c[0] - r, c[1]), (c[0] + r, c[1]), colour, max(2, r // 2))
        cv2.line(image, (c[0], c[1] - r), (c[0], c[1] + r), colour, max(2, r // 2))
    elif kind == "tee":
        cv2.line(image, (c[0] - r, c[1] - r), (c[0] + r, c[1] - r), colour, max(2, r // 2))
        cv2.line(image, (c[0], c[1] - r), (c[0], c[1] + r), colour, max(2, r // 2))
    else:
        n, phase = {"triangle": (3, -np.pi / 2), "diamond": (4, 0.0), "hexagon": (6, 0.0)}[kind]
        a = phase + 2 * np.pi * np.arange(n) / n
        pts = np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1).round().astype(np.int32)
        cv2.fillPoly(image, [pts], colour, cv2.LINE_AA)


def background(rng, width, height):
    """A muted wall with a gradient, a floor and fixed texture noise."""
    base = rng.uniform(90, 170, size=3)
    ramp = np.linspace(-20, 20, height)[:, None, None]
    img = np.broadcast_to(base + ramp, (height, width, 3)).copy()
    floor = int(height * rng.uniform(0.75, 0.85))
    img[floor:] = base * rng.uniform(0.55, 0.75)
    img += rng.normal(0, 6, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_view(motion, view, rng, num_frames, object_class, width, height,
                person_height_mm=PERSON_HEIGHT_MM):
    """One camera's video and ground truth: dict of frames (T, H, W, 3) RGB, keypoints (T, 17, 3)
    and boxes (T, 4) in pixels, object_box (4,), joints_3d (T, 17, 3) in the camera's
    millimetres and camera (4,) fx, fy, cx, cy: the keypoints are joints_3d's projections."""
    yaw = np.deg2rad(VIEW_YAW[view] + rng.uniform(-8, 8))
    scale = height * rng.uniform(0.58, 0.72)  # pixels per body unit at the person's depth
    centre_x = width / 2 + rng.uniform(-0.06, 0.06) * width
    ground_y = height * rng.uniform(0.88, 0.95)
    body, colours = motion["body"], motion["colours"]
    unit_mm = person_height_mm / stature(body)
    intrinsics, rotation, translation = camera(yaw, centre_x, ground_y, scale, width, height,
                                               unit_mm)
    bg = background(rng, width, height)
    points = []
    for t in range(num_frames):
        phase = motion["phase0"] + motion["cycles"] * t / num_frames
        p3, head3 = skeleton(motion["action"], phase % 1.0, motion["amp"], body)
        points.append(np.concatenate([p3, head3[None]]))  # the head centre rides along
    # (T, 18, 3) body units -> camera mm -> pixels (T, 18, 2); index 17 is the head centre.
    cam = np.array(points) * unit_mm @ rotation.T + translation
    uv = project(cam, intrinsics)
    joints, heads = uv[:, :K], uv[:, K]
    # Person boxes: joints and head disc, padded by half a limb width.
    pad = scale * body["limb_w"] / 2
    boxes = np.array([[min(j[:, 0].min() - pad, h[0] - scale * body["head"]),
                       min(j[:, 1].min() - pad, h[1] - scale * body["head"]),
                       max(j[:, 0].max() + pad, h[0] + scale * body["head"]),
                       max(j[:, 1].max() + pad, h[1] + scale * body["head"])]
                      for j, h in zip(joints, heads)], np.float32)
    # The object goes on the roomier side, outside the square crop of the union box.
    crop = square_box(union_box(boxes))
    r = int(height * rng.uniform(0.06, 0.085))
    left_room, right_room = crop[0], width - crop[2]
    if left_room >= right_room:
        ox = rng.uniform(r + 1, max(r + 1, crop[0] - r - 2))
    else:
        ox = rng.uniform(min(width - r - 2, crop[2] + r + 2), width - r - 2)
    oy = rng.uniform(height * 0.35, ground_y - r)
    draw_object(bg, *OBJECTS[object_class], ox, oy, r)
    frames = [draw_person(bg.copy(), joints[t], cam[t, :K, 2], heads[t], cam[t, K, 2], scale,
                          body, colours) for t in range(num_frames)]
    keypoints = np.concatenate([joints, np.full((num_frames, K, 1), 2.0)], axis=2)
    return dict(frames=np.stack(frames), keypoints=keypoints.astype(np.float32), boxes=boxes,
                object_box=np.array([ox - r, oy - r, ox + r, oy + r], np.float32),
                joints_3d=cam[:, :K].astype(np.float32), camera=intrinsics.astype(np.float32))


def random_motion(rng, action, body):
    colours = {"shirt": tuple(int(v) for v in rng.randint(0, 256, 3)),
               "pants": tuple(int(v) for v in rng.randint(0, 180, 3)),
               "skin": tuple(int(v) for v in (rng.uniform(150, 240), rng.uniform(110, 190),
                                              rng.uniform(80, 160)))}
    return dict(action=action, body=body, colours=colours, amp=rng.uniform(0.7, 1.0),
                cycles=rng.uniform(0.8, 1.6), phase0=rng.uniform(0, 1))


def object_for(label, view, rng, bias, test_view, num_classes):
    if view != test_view and rng.uniform() < bias:
        return label
    if view != test_view:  # the unbiased remainder: any other class's object
        return int(rng.choice([c for c in range(num_classes) if c != label]))
    return int(rng.randint(num_classes))


def generate(out, subjects=8, repetitions=2, frames=36, bias=0.9, test_view=3, seed=0,
             width=RESIZE[0], height=RESIZE[1], classes=len(ACTIONS), progress=True,
             person_height_mm=PERSON_HEIGHT_MM):
    """Render the benchmark into ``out``; returns the number of videos. Resumable by file.
    ``person_height_mm`` sizes the 3D joints only: the videos and 2D keypoints do not depend on
    it (the camera distance scales with it)."""
    os.makedirs(out, exist_ok=True)
    jobs = [(a, s, e) for a in range(classes) for s in range(1, subjects + 1)
            for e in range(1, repetitions + 1)]
    written = 0
    for a, s, e in tqdm(jobs, desc="synth", disable=not progress):
        # One seed per performance: the same person and motion in every view, any run order.
        rng = np.random.RandomState([seed, a, s, e])
        subject_rng = np.random.RandomState([seed, 1000 + s])
        motion = random_motion(rng, a, random_body(subject_rng))
        for view in (1, 2, 3):
            stem = f"a{ACTION_CODES[a]:02d}_s{s:02d}_e{e:02d}_v{view:02d}"
            video, ann = os.path.join(out, stem + ".avi"), os.path.join(out, stem + ".npz")
            if os.path.exists(video) and os.path.exists(ann):
                continue
            obj = object_for(a, view, rng, bias, test_view, classes)
            r = render_view(motion, view, rng, frames, obj, width, height, person_height_mm)
            # The annotation first: a video on disk implies its labels.
            write_annotation(ann, r["keypoints"], r["boxes"], joints_3d=r["joints_3d"],
                             camera=r["camera"], person_height_mm=person_height_mm,
                             object_class=obj, object_box=r["object_box"])
            write_video(video, r["frames"], FPS)
            written += 1
    atomic_write_text(os.path.join(out, "synth.json"), json.dumps(dict(
        subjects=subjects, repetitions=repetitions, frames=frames, bias=bias,
        test_view=test_view, seed=seed, width=width, height=height,
        classes=list(CLASSES[:classes]), person_height_mm=person_height_mm), indent=2))
    return written


def generate_coco(out, subjects=4, val_subjects=1, frames=36, every=6, seed=100,
                  width=RESIZE[0], height=RESIZE[1], progress=True):
    """Frames of fresh synthetic people as a COCO keypoints dataset: OUT/images/*.jpg and
    OUT/person_keypoints_{train,val}.json. Subjects ``1..subjects - val_subjects`` go to train,
    the rest to val; ``seed`` differs from the benchmark's, so these are other people."""
    from .keypoints import COCO_KEYPOINTS
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    splits = {name: dict(images=[], annotations=[], categories=[dict(
        id=1, name="person", supercategory="person", keypoints=list(COCO_KEYPOINTS),
        skeleton=[])]) for name in ("train", "val")}
    jobs = [(a, s) for a in range(len(ACTIONS)) for s in range(1, subjects + 1)]
    for a, s in tqdm(jobs, desc="synth coco", disable=not progress):
        rng = np.random.RandomState([seed, a, s])
        motion = random_motion(rng, a, random_body(np.random.RandomState([seed, 1000 + s])))
        split = splits["train" if s <= subjects - val_subjects else "val"]
        for view in (1, 2, 3):
            obj = int(rng.randint(len(ACTIONS)))
            r = render_view(motion, view, rng, frames, obj, width, height)
            clip, kps, boxes = r["frames"], r["keypoints"], r["boxes"]
            for t in range(0, frames, every):
                image_id = len(splits["train"]["images"]) + len(splits["val"]["images"]) + 1
                name = f"a{a:02d}_s{s:02d}_v{view}_t{t:03d}.jpg"
                path = os.path.join(out, "images", name)
                if not os.path.exists(path):  # imwrite reports no reason: encode, then write
                    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(clip[t], cv2.COLOR_RGB2BGR),
                                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                    if not ok:
                        raise ValueError(f"{path}: OpenCV cannot encode the frame as JPEG")
                    atomic_write_bytes(path, jpeg.tobytes())
                x1, y1, x2, y2 = (float(v) for v in boxes[t])
                split["images"].append(dict(id=image_id, file_name=name, width=width,
                                            height=height))
                split["annotations"].append(dict(
                    id=image_id, image_id=image_id, category_id=1, iscrowd=0,
                    bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                    num_keypoints=int((kps[t, :, 2] > 0).sum()),
                    keypoints=[round(float(v), 2) for v in kps[t].reshape(-1)]))
    for name, data in splits.items():
        atomic_write_text(os.path.join(out, f"person_keypoints_{name}.json"), json.dumps(data))
    return {k: len(v["annotations"]) for k, v in splits.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Render the synthetic person-centric benchmark.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--bias", type=float, default=0.9,
                        help="probability of the class's own object in the training views")
    parser.add_argument("--test-view", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--person-height-mm", type=float, default=PERSON_HEIGHT_MM,
                        help="every person's height: sizes the 3D joints, not the videos")
    parser.add_argument("--coco", help="also write a COCO keypoints set of other synthetic "
                                       "people here (for train_pose.py and eval_coco.py)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log = logging.getLogger("synth")
    with exit_on_error(log):
        n = generate(args.out, args.subjects, args.repetitions, args.frames, args.bias,
                     args.test_view, args.seed, person_height_mm=args.person_height_mm)
        print(f"wrote {n} videos to {args.out}")
        if args.coco:
            counts = generate_coco(args.coco)
            print(f"wrote a COCO keypoints set to {args.coco}: {counts}")


if __name__ == "__main__":
    main()

"""One video in, what Action Machine makes of it out: person box, poses, top-5 actions.

    python demo_video.py VIDEO [--checkpoint FILE] [--detector dcn_rfcn] [--weights FILE]
                         [--max-frames 1000] [--out DIR]
    make demo-video VIDEO=clip.mp4 [ARGS="--checkpoint runs/X/final.params"]

The paper's test pipeline on any video file OpenCV decodes (mp4, avi, ..., any size):

1. person box: the detector (default the paper's Deformable R-FCN, ``detect_persons.py``) on
   ``--detect-frames`` frames evenly spaced, boxes of confidence >= ``--threshold`` (0.99)
   united into one box. Without the detector's weights the box is the full frame, and the log,
   the sheet and the video say so;
2. actions: 10 clips evenly spaced x 3 crops of the squared box (``eval_action.py``'s views),
   softmax averaged; the top 5 of the RGB head, the pose CNN and their fusion (the mean of the
   two, which ranks as the paper's sum);
3. poses: the pose head on the centre crop of every frame (clips at the training stride),
   decoded by arg-max + offset (Eq. 6) and mapped back onto the frames.

Writes to OUT (default runs/demo_video): NAME_annotated.mp4 (box, skeleton and a side panel
with the three top-5 lists; frames larger than 960 px on their long side are scaled down; MPEG-4
Part 2, "mp4v", the codec the pip OpenCV build writes: it has no H.264 encoder),
NAME_sheet.png (8 frames and the top-5 lists), NAME_predictions.json, demo_video.log.

With no --checkpoint the model is the demo's KPS PoseAction RGBAction (ResNet-18) of
``make demo`` (runs/demo/synth_xview3_kps_pose_r18/final.params with its final.yaml): its
classes are the synthetic benchmark's ten actions, not those of a real dataset.
"""
import contextlib
import json
import os
import sys

from common import cli
from symbols.detector import DEFAULT_WEIGHTS


DEMO_CHECKPOINT = os.path.join("runs", "demo", "synth_xview3_kps_pose_r18", "final.params")


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("video", help="a video file (mp4, avi, ...: what OpenCV decodes)")
    parser.add_argument("--checkpoint", default=DEMO_CHECKPOINT,
                        help="a video model's .params with its .yaml (or epoch .json) beside it "
                             f"(default: the demo's, {DEMO_CHECKPOINT})")
    parser.add_argument("--detector", default="dcn_rfcn",
                        help="person detector: dcn_rfcn (the paper's), dcn_rfcn_tiny, "
                             "gluoncv:NAME")
    parser.add_argument("--weights", help="detector weights (dcn_rfcn default: "
                                          f"{DEFAULT_WEIGHTS['dcn_rfcn']})")
    parser.add_argument("--threshold", type=float, default=0.99,
                        help="person boxes of at least this confidence form the union box")
    parser.add_argument("--detect-frames", type=int, default=8,
                        help="frames (evenly spaced) the detector sees")
    parser.add_argument("--max-frames", type=int, default=1000,
                        help="use the first N frames (the annotated frames are held in memory: "
                             "1000 at 960x540 take 1.5 GB)")
    parser.add_argument("--out", default=os.path.join("runs", "demo_video"))
    cli.add_dtype_arg(parser, config=False)
    cli.add_gpus_arg(parser)
    cli.add_threads_arg(parser)
    args = parser.parse_args(argv)
    args.dtype = args.dtype or "float32"
    if args.detect_frames < 1 or args.max_frames < 1:
        parser.error("--detect-frames and --max-frames must be >= 1")
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import cv2
import mxnet as mx
import numpy as np

from common.errors import check_writable, exit_on_error
from common.files import atomic_write_text
from data.transforms import (
    crop_frames,
    full_frame_box,
    square_box,
    test_crop_boxes,
    test_indices,
    to_network,
)
from data.video import VideoError, count_frames, iter_frames
from engine.views.annotated_video import HEADS, annotate, write_annotated
from engine.training.checkpoints import checkpoint_config, load_weights
from engine.experiment import dataset_of, contexts, setup_logging
from engine.systems import build_model
from engine.stages.person_boxes import build_detector, video_box
from engine.inference.precision import check_dtype, for_inference
from engine.metrics.scoring import best_classes, video_scores
from engine.views.cam import crop_keypoints_to_frame
from symbols.detector import RFCN_DETECTORS
from symbols.pose_decoder import decode_pose_maps

DISPLAY_SIDE = 960  # the annotated video's long side at most, in pixels


@contextlib.contextmanager
def native_stderr_silenced():
    """OpenCV and FFmpeg write their complaints about a file that is not a video straight to the
    process's stderr; meanwhile they go nowhere, and the reason is ours, in one line."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def probe(path):
    """-> (frames that decode, width, height, fps); VideoError naming ``path`` otherwise."""
    if not os.path.isfile(path):
        raise VideoError(f"{path}: no such file")
    with native_stderr_silenced():
        cap = cv2.VideoCapture(path)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        finally:
            cap.release()
    if not ok:
        raise VideoError(f"{path}: not a video OpenCV can decode")
    height, width = frame.shape[:2]
    return count_frames(path, (height, width)), width, height, fps


def load_model(checkpoint, ctx, log, dtype="float32"):
    """The checkpoint's own model (its final.yaml) with its weights -> (cfg, net, classes)."""
    if not os.path.isfile(checkpoint):
        if checkpoint == DEMO_CHECKPOINT:
            raise FileNotFoundError(f"no demo model at {checkpoint}: run `make demo` first (or "
                                    f"give --checkpoint FILE with its .yaml beside it)")
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    cfg = checkpoint_config(checkpoint)
    cfg["model"]["pretrained"] = None  # every weight comes from the checkpoint
    net = build_model(cfg, [ctx])
    load_weights(net, checkpoint, [ctx], log)
    net.hybridize(static_alloc=True)
    net = for_inference(net, dtype, ctx, "--dtype")
    dataset = cfg["data"]["dataset"]
    classes = list(dataset_of(cfg).CLASSES)  # your own videos: PREPARED/dataset.json's
    if dataset == "synth":
        log.warning("the model's classes are the synthetic benchmark's ten actions "
                    "(data/synth.py), not a real dataset's: %s", ", ".join(classes))
    return cfg, net, classes


def person_box(path, num_frames, width, height, args, ctx, log):
    """The union box of confident detections on ``args.detect_frames`` frames evenly spaced
    -> (box (4,), how it was found, in words)."""
    weights = args.weights or DEFAULT_WEIGHTS.get(args.detector)
    if args.detector in RFCN_DETECTORS and weights and not os.path.isfile(weights):
        log.warning("no weights for the %s detector at %s: the person box is the full frame "
                    "(download them as the README's 'Person detection' says)", args.detector,
                    weights)
        return full_frame_box(width, height), f"full frame: no {args.detector} weights"
    detector = build_detector(args.detector, weights, ctx, args.dtype)  # warns of random weights
    wanted = set(np.linspace(0, num_frames - 1, min(num_frames, args.detect_frames))
                 .round().astype(int).tolist())
    boxes, scores = [], []
    for i, frame in iter_frames(path, max_frames=max(wanted) + 1):
        if i in wanted:
            dets = detector(frame[None])[0]
            boxes.append(dets[:, :4])
            scores.append(dets[:, 4])
    found = video_box(boxes, scores, args.threshold, width, height)
    if found["fallback"]:
        log.warning("no person of confidence >= %g in %d frames: the person box is the full "
                    "frame", args.threshold, len(boxes))
        return np.array(found["box"], np.float32), "full frame: no confident person"
    return np.array(found["box"], np.float32), (
        f"{args.detector}, {found['frames_with_person']} of {len(boxes)} frames")


def read_crops(path, num_frames, boxes, size, display_scale):
    """One pass over the video -> (crops (len(boxes), n, S, S, 3) of every frame, display
    frames (n, h, w, 3) scaled by ``display_scale``)."""
    crops, display = [], []
    for _, frame in iter_frames(path, max_frames=num_frames):
        crops.append(np.concatenate([crop_frames(frame[None], b, size) for b in boxes]))
        if display_scale != 1:
            frame = cv2.resize(frame, None, fx=display_scale, fy=display_scale,
                               interpolation=cv2.INTER_AREA)
        display.append(frame)
    return np.stack(crops, axis=1), np.stack(display)


def action_scores(net, crops, cfg, stride, ctx):
    """The test protocol's views (clips x 3 crops) -> {head: softmax averaged over views}."""
    clips = test_indices(crops.shape[1], cfg["data"]["clip_len"], stride,
                         cfg["eval"]["num_clips"])
    views = np.stack([to_network(crops[c][idx]) for idx in clips for c in range(3)])
    scores = video_scores(net, mx.nd.array(views), ctx, cfg["eval"]["views_per_batch"])
    if "pose" in scores:
        scores["fused"] = (scores["rgb"] + scores["pose"]) / 2  # the sum's ranking, as a share
    return scores


def frame_poses(net, crops, clip_len, stride, batch, ctx):
    """The pose head on every frame of ``crops`` (n, S, S, 3): clips of ``clip_len`` frames at
    ``stride`` tile the video, so each frame is seen once (the last clip repeats the last
    frame) -> keypoints (n, K, 3) in crop pixels, confidence ReLU(max logit)."""
    n = len(crops)
    clips = [np.minimum(start + offset + stride * np.arange(clip_len), n - 1)
             for start in range(0, n, stride * clip_len) for offset in range(stride)
             if start + offset < n]
    keypoints = np.zeros((n, net.pose_head.num_keypoints, 3), np.float32)
    for b in range(0, len(clips), batch):
        chunk = clips[b:b + batch]
        x = mx.nd.array(np.stack([to_network(crops[idx]) for idx in chunk]), ctx=ctx)
        outputs = dict(zip(net.output_names, net(x)))
        kps = decode_pose_maps(outputs["heatmaps"].asnumpy(), outputs["offsets"].asnumpy(),
                               net.stride, net.radius, confidence="relu")  # (B, T, K, 3)
        for idx, k in zip(chunk, kps):
            keypoints[idx] = k  # a repeated last frame writes the same frame again
    return keypoints


def top5(scores, classes):
    """{head: softmax} -> {head: [(class, probability)] best first (ties: the lower class
    first, as the test's top-5)}."""
    return {head: [(classes[i], float(p[i])) for i in best_classes(p, 5)]
            for head, p in scores.items()}


def main(argv=None):
    args = cli.start(parse_args(argv))
    with exit_on_error():
        check_dtype(args.dtype, contexts(args.gpus)[0], "--dtype")
        video = probe(args.video)  # before any output: a file that is not a video is one line
        check_writable(args.out)
        log = setup_logging(args.out, "demo_video")
    with exit_on_error(log):
        return run(args, video, log)


def run(args, video, log):
    """``video``: ``probe``'s (frames, width, height, fps) of ``args.video``."""
    ctx = contexts(args.gpus)[0]
    num_frames, width, height, fps = video
    cfg, net, classes = load_model(args.checkpoint, ctx, log, args.dtype)
    log.info("%s: %d frames of %dx%d at %.1f fps", args.video, num_frames, width, height, fps)
    if num_frames > args.max_frames:
        log.warning("using the first %d of its %d frames (--max-frames)", args.max_frames,
                    num_frames)
        num_frames = args.max_frames
    box, box_source = person_box(args.video, num_frames, width, height, args, ctx, log)
    log.info("person box %s (%s)", np.round(box, 1).tolist(), box_source)
    size, d = cfg["data"]["size"], cfg["data"]
    crop_boxes = test_crop_boxes(box, cfg["eval"]["test_crop_scale"], d["crop_aspect"])
    scale = min(1.0, DISPLAY_SIDE / max(width, height))
    crops, display = read_crops(args.video, num_frames, crop_boxes, size, scale)
    stride = d["stride"] or dataset_of(cfg).STRIDE
    ranked = top5(action_scores(net, crops, cfg, stride, ctx), classes)
    for head, title in HEADS:
        if head in ranked:
            log.info("%s top 5: %s", title, ", ".join(f"{c} {p:.2f}" for c, p in ranked[head]))
    keypoints = None
    if net.pose_head is not None:
        kps = frame_poses(net, crops[1], d["clip_len"], stride, cfg["eval"]["views_per_batch"],
                          ctx)
        keypoints = crop_keypoints_to_frame(kps, crop_boxes[1], size)
    else:
        log.warning("the model has no pose head: no poses drawn")
    stem = os.path.splitext(os.path.basename(args.video))[0]
    annotated = [annotate(f, None if keypoints is None else keypoints[i], box, scale)
                 for i, f in enumerate(display)]
    video_path, sheet_path = write_annotated(
        os.path.join(args.out, stem), annotated, fps, ranked, box_source,
        f"{os.path.basename(args.video)}: person box ({box_source}) and poses; top 5 of "
        f"{cfg['experiment']} ({cfg['data']['dataset']} classes)")
    record = dict(video=args.video, frames=num_frames, frames_in_file=video[0], width=width,
                  height=height, fps=fps,
                  checkpoint=args.checkpoint, classes_of=cfg["data"]["dataset"],
                  box=[float(v) for v in box], box_source=box_source,
                  crop_box=[float(v) for v in square_box(box, d["crop_aspect"])],
                  top5={h: [dict(action=c, probability=p) for c, p in r]
                        for h, r in ranked.items()})
    atomic_write_text(os.path.join(args.out, f"{stem}_predictions.json"),
                      json.dumps(record, indent=1))
    log.info("wrote %s, %s", video_path, sheet_path)
    return record


if __name__ == "__main__":
    main()

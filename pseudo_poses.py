"""Pseudo-poses: the COCO pose model labels every frame of every prepared video (paper Sec. 4.3,
"The pose annotations of video frames are obtained by using the detection boxes and models
trained on COCO").

    python pseudo_poses.py --config configs/pose/coco_r50_384x288.yaml \
        --prepared work/nucla/prepared --boxes work/nucla/boxes.json --out work/nucla/poses

or, without training a COCO model first, with a published one (engine/stages/published_pose.py: GluonCV's
simple_pose models, downloaded, or --weights FILE; its own decoding and flip test):

    python pseudo_poses.py --pose-model gluoncv:simple_pose_resnet50_v1b \
        --prepared work/nucla/prepared --boxes work/nucla/boxes.json --out work/nucla/poses

Each frame is cropped by its video's union person box (made 4:3 as in COCO training), the model's
heatmaps (averaged with its mirror's) are decoded, and the keypoints are mapped back to pixels of
the prepared video: one (T, 17, 3) array a video, (x, y, probability), in OUT/ID.npy, the format
train_action.py reads. Resumable (a finished video's file is skipped); a video that cannot be
read is skipped and listed in OUT/skipped.csv with the reason. A model that outputs NaN or inf
stops the run naming the video, and nothing is written for it: such keypoints are not labels.
Every bad input (a missing or malformed file, an unwritable folder) is one line ``error: ...``.
Several processes or nodes: ``--shard K/N`` labels every N-th video from the K-th, and the last
shard to finish checks that the N shards' lists (OUT/done.shardKofN.json) hold every video once
and writes OUT/skipped.csv (data/shards.py).
"""
import logging
import os

from engine.config import add_config_args
from data.shards import parse as shard_arg
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser, required=False, cpus=False)  # --config: the pose model's
    parser.add_argument("--pose-model", metavar="gluoncv:NAME",
                        help="a published COCO pose model instead of --config's (GluonCV's "
                             "simple_pose_*; weights downloaded, or --weights)")
    parser.add_argument("--weights", help="--pose-model: its .params file (no download)")
    parser.add_argument("--no-flip", action="store_true",
                        help="--pose-model: no flip test (GluonCV's validation flips)")
    parser.add_argument("--prepared", required=True)
    parser.add_argument("--boxes", required=True)
    parser.add_argument("--out", required=True, help="poses directory")
    parser.add_argument("--checkpoint", help="default: the pose run's last epoch")
    cli.add_dtype_arg(parser)
    parser.add_argument("--shard", type=shard_arg, metavar="K/N",
                        help="every N-th video from the K-th; the last shard merges")
    args = parser.parse_args(argv)
    if bool(args.config) == bool(args.pose_model):
        parser.error("give the pose model: --config (a trained run's config) or --pose-model "
                     "gluoncv:NAME")
    if args.pose_model and (args.checkpoint or args.overrides or args.dtype):
        parser.error("--checkpoint, --dtype and key=value overrides go with --config")
    if args.weights and not args.pose_model:
        parser.error("--weights goes with --pose-model (a --config run has its checkpoint)")
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx
import numpy as np

from engine.config import POSE_BASE, load_config
from data.coco import ASPECT, crop_box, image_to_network
from common.errors import exit_on_error, one_line
from common.progress import Progress
from data.index import read_boxes, read_index, write_poses, write_skipped
from data.keypoints import flip_pose_maps
from data.shards import merge_parts, pick, write_part
from data.transforms import affine_crop_matrix, apply_affine, invert_affine, warp
from data.video import VideoError, read_video
from engine.training.checkpoints import checkpoint_or_last, load_weights
from common.cli import with_dtype
from engine.experiment import contexts
from engine.systems import build_pose_model
from engine.pose_experiment import pose_radius_of
from engine.stages import published_pose
from engine.inference.precision import check_dtype, for_inference
from symbols import get_model
from symbols.pose_decoder import decode_pose_maps, first_non_finite
from symbols.published_pose import model_name

log = logging.getLogger("pseudo_poses")


def label_video(net, frames, box, input_size, radius, ctx, batch_size=64, flip=True,
                aspect=ASPECT):
    """frames (T, H, W, 3), union box (x1, y1, x2, y2) -> keypoints (T, 17, 3) in frame pixels;
    FloatingPointError at the first frame whose maps hold NaN or inf (they decode to nonsense)."""
    x1, y1, x2, y2 = box
    centre, size = crop_box([x1, y1, x2 - x1, y2 - y1], aspect)
    m = affine_crop_matrix(centre, size, input_size)
    crops = np.stack([image_to_network(warp(f, m, input_size)) for f in frames])
    out = []
    for start in range(0, len(crops), batch_size):
        x = mx.nd.array(crops[start:start + batch_size], ctx=ctx)
        heat, offsets = (a.asnumpy() for a in net(x))
        if flip:
            fh, fo = (a.asnumpy() for a in net(x.flip(axis=3)))
            fh, fo = flip_pose_maps(fh, fo)
            heat, offsets = (heat + fh) / 2, (offsets + fo) / 2
        bad = first_non_finite(heat, offsets)
        if bad is not None:
            raise FloatingPointError(f"non-finite heatmaps or offsets (NaN or inf) at frame "
                                     f"{start + bad}")
        out.append(decode_pose_maps(heat, offsets, net.stride, radius))
    return apply_affine(np.concatenate(out), invert_affine(m))


def read_inputs(prepared, boxes_file):
    """-> (samples, {id: box}); a malformed index or boxes file is a one-line ValueError naming
    it (data.index's readers take well-formed files for granted)."""
    index = os.path.join(prepared, "index.jsonl")
    try:
        samples = read_index(prepared)
    except ValueError as err:
        raise ValueError(f"{index} is not a sample index ({one_line(err)})") from None
    if not all(isinstance(s, dict) and "id" in s and "path" in s for s in samples):
        raise ValueError(f"{index}: a line has no 'id' or 'path'")
    try:
        boxes, _ = read_boxes(boxes_file)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{boxes_file} is not a person boxes file ({type(err).__name__}: "
                         f"{one_line(err)})") from None
    for vid, box in boxes.items():  # a NaN box would crop nothing and map keypoints to NaN
        if box.shape != (4,) or not np.isfinite(box).all():
            raise ValueError(f"{boxes_file}: video {vid}'s box {box.tolist()} is not 4 finite "
                             f"numbers")
    return samples, boxes


def config_labeller(cfg, ctx, checkpoint=None):
    """A pose run's model -> (label(frames, box) -> (T, 17, 3), what it is, in words)."""
    net = build_pose_model(cfg, [ctx])
    checkpoint = checkpoint_or_last(cfg["out"], checkpoint)
    load_weights(net, checkpoint, [ctx], log)
    net.hybridize(static_alloc=True)
    net = for_inference(net, cfg["eval"]["dtype"], ctx)  # eval.dtype
    input_size = tuple(cfg["data"]["input_size"])
    radius = pose_radius_of(cfg)
    return (lambda frames, box: label_video(net, frames, box, input_size, radius, ctx,
                                            flip=cfg["eval"]["flip"],
                                            aspect=cfg["data"]["aspect"])), checkpoint


def published_labeller(pose_model, weights, ctx, flip=True):
    """A published model (engine/stages/published_pose.py) -> (label, what it is)."""
    model_name(pose_model)  # one line for a name outside GluonCV's simple_pose family
    net = get_model(pose_model, ctx=ctx, weights=weights)
    return (lambda frames, box: published_pose.label_video(net, frames, box, ctx,
                                                           flip=flip)), pose_model


def run(cfg, prepared, boxes_file, out, ctx, checkpoint=None, progress=True, shard=None,
        labeller=None):
    """Label every video with the pose run of ``cfg`` (or ``labeller() -> (label, name)``, e.g.
    a published model's, built once the inputs are checked) -> (videos labelled, skipped
    rows)."""
    if labeller is None:
        check_dtype(cfg["eval"]["dtype"], ctx)  # before any work
    samples, boxes = read_inputs(prepared, boxes_file)
    every, samples = samples, pick(samples, shard)
    label, checkpoint = labeller() if labeller else config_labeller(cfg, ctx, checkpoint)
    os.makedirs(out, exist_ok=True)
    todo = [s for s in samples if not os.path.exists(os.path.join(out, s["id"] + ".npy"))]
    log.info("%d videos, %d already labelled", len(samples), len(samples) - len(todo))
    skipped = []
    for s in Progress(len(todo), "pseudo-poses", log, unit="videos",
                      bar=None if progress else False).over(todo):
        if s["id"] not in boxes:
            skipped.append((s["id"], "no person box"))
            continue
        try:
            frames, _ = read_video(os.path.join(prepared, s["path"]))
        except VideoError as err:
            skipped.append((s["id"], str(err)))
            continue
        try:
            kps = label(frames, boxes[s["id"]])
        except FloatingPointError as err:
            raise FloatingPointError(f"video {s['id']}: {checkpoint} outputs {err}; nothing "
                                     f"written for it") from None
        write_poses(out, s["id"], kps)
    if shard is not None:
        return merge_shard(out, shard, every, samples, skipped)
    write_skipped(os.path.join(out, "skipped.csv"), skipped)
    if len(skipped) == len(samples):
        raise RuntimeError(f"no video could be labelled; reasons in {out}/skipped.csv")
    return len(todo) - len(skipped), skipped


def merge_shard(out, shard, every, samples, skipped):
    """This shard's list of labelled and skipped videos; the last shard merges the skipped lists
    into OUT/skipped.csv once every video is in exactly one list. -> (labelled, skipped) of
    this shard."""
    names = {name for name, _ in skipped}
    labelled = [s["id"] for s in samples if s["id"] not in names]
    done = os.path.join(out, "done.json")
    write_part(done, shard, labelled, skipped)
    merged = merge_parts(done, shard[1], [s["id"] for s in every])
    if merged is not None:
        write_skipped(os.path.join(out, "skipped.csv"), sorted(merged[1]))
        if not merged[0]:
            raise RuntimeError(f"no video could be labelled; reasons in {out}/skipped.csv")
    return len(labelled), skipped


def main(argv=None):
    args = cli.start(parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with exit_on_error(log):
        ctx = contexts(args.gpus)[0]
        if args.pose_model:
            done, skipped = run(None, args.prepared, args.boxes, args.out, ctx, shard=args.shard,
                                labeller=lambda: published_labeller(
                                    args.pose_model, args.weights, ctx, not args.no_flip))
        else:
            cfg = load_config(args.config, with_dtype(args.overrides, args.dtype),
                              base=POSE_BASE)
            done, skipped = run(cfg, args.prepared, args.boxes, args.out, ctx, args.checkpoint,
                                shard=args.shard)
    log.info("labelled %d videos, skipped %d (see %s/skipped.csv)", done, len(skipped), args.out)


if __name__ == "__main__":
    main()

"""See what a trained model sees: class activation maps (paper Figs. 1, 5) and poses (Figs. 6-9).

    python visualize.py --config configs/action_machine/synth/synth_xview3_rgb_random_crop.yaml \
        --config configs/action_machine/synth/synth_xview3_kps.yaml \
        --videos a01_s01_e01_v03,a08_s02_e01_v03 \
        --out runs/figures [--checkpoint FILE ...] [--classes gt,pred] [key=value ...]

For each video, the test protocol's centre view (the middle of three clips evenly spaced, the
centre crop: of the person box, or of the frame for the random-crop baseline) goes through every
model. Writes to OUT:

    cam_ID.png   frames across; one row per model and class (ground truth, predicted, or as
                 --classes asks): the RGB head's CAM (symbols/cam.py) blended over the model's
                 own input crop, each row on its own scale; the label gives the class's softmax
    pose_ID.png  frames across; ground truth (where the dataset ships it: the synthetic
                 benchmark) and each pose-head model's decoded keypoints over the whole frames,
                 with the video's union person box
    visualize.log

Each config's checkpoint is ``--checkpoint`` (one per --config, in order) or its run's last
(``{out}/final.params`` or the newest epoch), checked against the config as eval_action.py does.
``key=value`` overrides apply to every config (e.g. data.prepared=..., runs=...).
"""
import os

from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("--config", action="append", required=True,
                        help="an experiment config; repeat for more models (rows)")
    parser.add_argument("--checkpoint", action="append",
                        help="the checkpoint of each --config, in order (default: its run's)")
    parser.add_argument("--videos", required=True, help="comma-separated video ids")
    parser.add_argument("--classes", default="gt,pred",
                        help="CAM rows per model: gt, pred, class names or indices (default "
                             "gt,pred)")
    parser.add_argument("--out", required=True, help="folder for the PNGs and the log")
    parser.add_argument("overrides", nargs="*", help="config overrides for every config")
    cli.add_gpus_arg(parser)
    cli.add_threads_arg(parser)
    args = parser.parse_args(argv)
    if args.checkpoint and len(args.checkpoint) != len(args.config):
        parser.error(f"give one --checkpoint per --config ({len(args.config)}), or none")
    args.videos = [v for v in args.videos.split(",") if v]
    args.classes = [c for c in args.classes.split(",") if c]
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx

from common.errors import check_writable, exit_on_error
from data.index import read_annotation, read_boxes, read_index
from engine.experiment import dataset_of, contexts, setup_logging
from engine.views.figures import cam_figure, pose_figure
from engine.metrics.scoring import softmax
from engine.views.cam import centre_view, crop_keypoints_to_frame
from engine.systems import load_model
from symbols.cam import class_activation_maps, features_and_weights, upsample
from symbols.pose_decoder import decode_pose_maps


def chosen_classes(wanted, label, pred, classes):
    """--classes items (gt, pred, a class name or index) -> [(class index, role)], each class
    once (a prediction equal to the ground truth is one row, labelled both)."""
    chosen = {}
    for item in wanted:
        if item == "gt":
            c, role = label, "ground truth"
        elif item == "pred":
            c, role = pred, "predicted"
        elif item in classes:
            c, role = classes.index(item), "asked"
        elif item.isdigit() and int(item) < len(classes):
            c, role = int(item), "asked"
        else:
            raise ValueError(f"--classes: {item!r} is not gt, pred, a class of "
                             f"{len(classes)} ({', '.join(classes[:4])}, ...) or an index")
        chosen[c] = f"{chosen[c]} = {role}" if c in chosen else role
    return list(chosen.items())


def model_rows(name, cfg, net, view, label, wanted, classes):
    """One video through one model -> (CAM rows, keypoints in frame pixels or None)."""
    clip = mx.nd.array(view["clip"][None])
    outputs = dict(zip(net.output_names, net(clip)))
    prob = softmax(outputs["rgb"].asnumpy())[0]
    rows = chosen_classes(wanted, label, int(prob.argmax()), classes)
    features, weight, _ = features_and_weights(net, clip)
    cams = class_activation_maps(features, weight, [[c for c, _ in rows]])[0]  # (m, T, h, w)
    cams = upsample(cams, cfg["data"]["size"])
    cam_rows = [(f"{name}\n{classes[c]} ({role})\np = {prob[c]:.2f}", view["crop"], cam)
                for (c, role), cam in zip(rows, cams)]
    keypoints = None
    if "heatmaps" in outputs:
        kps = decode_pose_maps(outputs["heatmaps"].asnumpy()[0], outputs["offsets"].asnumpy()[0],
                               net.stride, net.radius, confidence="relu")
        keypoints = crop_keypoints_to_frame(kps, view["crop_box"], cfg["data"]["size"])
    return cam_rows, keypoints


def main(argv=None):
    args = cli.start(parse_args(argv))
    with exit_on_error():
        check_writable(args.out)
        log = setup_logging(args.out, "visualize")
    with exit_on_error(log):
        return run(args, log)


def run(args, log):
    ctx = contexts(args.gpus)[0]
    checkpoints = args.checkpoint or [None] * len(args.config)
    models = [load_model(c, k, args.overrides, ctx, log)
              for c, k in zip(args.config, checkpoints)]
    first = models[0][0]["data"]
    for key in ("dataset", "prepared", "clip_len", "stride"):
        values = {str(cfg["data"][key]) for cfg, _, _ in models}
        if len(values) > 1:  # the rows must show the same frames of the same videos
            raise ValueError(f"the configs differ in data.{key} ({', '.join(sorted(values))})")
    classes = list(dataset_of(models[0][0]).CLASSES)
    index = {s["id"]: s for s in read_index(first["prepared"])}
    unknown = [v for v in args.videos if v not in index]
    if unknown:
        raise ValueError(f"{first['prepared']} has no video {unknown[0]!r} (ids look like "
                         f"{next(iter(index))!r})")
    boxes = {cfg["data"]["boxes"]: read_boxes(cfg["data"]["boxes"])[0] for cfg, _, _ in models
             if cfg["data"]["crop"] == "person" or os.path.isfile(cfg["data"]["boxes"])}
    written = []
    for vid in args.videos:
        sample = index[vid]
        cam_rows, pose_rows = [], []
        for cfg, net, ckpt in models:
            view = centre_view(cfg, sample, boxes.get(cfg["data"]["boxes"]))
            rows, kps = model_rows(cfg["experiment"], cfg, net, view, sample["label"],
                                   args.classes, classes)
            cam_rows += rows
            if kps is not None:
                pose_rows.append((f"{cfg['experiment']}\n(prediction)", view["frames"], kps))
        columns = [f"frame {i}" for i in view["indices"]]
        title = f"{vid}: {classes[sample['label']]}"
        path = os.path.join(args.out, f"cam_{vid}.png")
        cam_figure(cam_rows, path, f"{title} (RGB head CAM)", columns)
        written.append(path)
        if pose_rows:
            ann = os.path.join(first["prepared"], "annotations", vid + ".npz")
            if os.path.isfile(ann):
                truth = read_annotation(ann)[0][view["indices"]]
                pose_rows.insert(0, ("ground truth", view["frames"], truth))
            box = boxes.get(first["boxes"], {}).get(vid)
            factor = max(1, 480 // max(view["frames"].shape[1:3]))  # small videos enlarged
            path = os.path.join(args.out, f"pose_{vid}.png")
            pose_figure([(label, frames, kps, box) for label, frames, kps in pose_rows], path,
                        f"{title} (poses; union person box in yellow)", columns, factor)
            written.append(path)
    log.info("wrote %s", ", ".join(written))
    return written


if __name__ == "__main__":
    main()

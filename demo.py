"""make demo: the whole pipeline on the synthetic benchmark, ending in the paper's ablation table.

synthesise -> prepare -> person boxes (the benchmark's ground truth stands in for the detector)
-> pose targets (ground-truth keypoints) -> a tiny 2D pose model trained on a COCO-format set of
other synthetic people, whose ResNet every row's I3D is inflated from (the paper inflates
ImageNet weights; none can be downloaded here) -> train the ablation rows (RGBAction random crop,
RGBAction person crop, KPS RGBAction, KPS PoseAction RGBAction with a ResNet-18 pose CNN) on the
biased views 1 and 2 -> test on the unbiased view 3 -> table. Then the paper's pose stage: the
pose model labels every video (pseudo-poses), and the two pose rows are trained again on those
labels -> a second table. The KPS row is tested through the stage-2 row that freezes it (its RGB
column). Every stage is the project's real code at the tiny model size
(configs/datasets/synth.yaml, configs/pose/synth_tiny.yaml), and every stage resumes: a rerun
redoes only what is missing.

Beside the tables: the share of the RGB head's CAM mass on the person and on the scene object for
each row on the test view (``engine.views.cam.cam_mass_of_videos``) and one CAM figure of the random-crop
and KPS rows (``visualize.py``), in RUNS/demo_figures. ``--seeds N`` trains every row with the
seeds 0 .. N-1 (seed 0 in RUNS/demo, seed s in RUNS/demo_seed{s}) and reports mean +- std over
them. The paper's claims (``CLAIMS``) are tested between rows, each with its 95 % interval over
the seeds (over the test videos with one seed) and its test over the videos (``demo_tables``):
the ``claims`` of RUNS/demo_results.json and the claims table of RUNS/demo_results.md. With
several seeds, the ``spread`` of the JSON and its table split each row's and each claim's spread
over the seeds into what each test video adds on its own (which more test videos would average
out) and what a seed shares over all its videos (``demo_tables.spread``).
"""
import json
import logging
import os
import sys
import time

from data.synth import DEMO_SUBJECTS
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    parser.add_argument("--work", default="work/synth", help="data of the benchmark")
    parser.add_argument("--runs", default="runs", help="where the rows' runs go")
    parser.add_argument("--bias", type=float, default=0.9)
    parser.add_argument("--seeds", type=int, default=1,
                        help="train every row with seeds 0 .. N-1; report mean +- std")
    parser.add_argument("--subjects", type=int, default=DEMO_SUBJECTS,
                        help="benchmark size (data.synth): subjects")
    parser.add_argument("--repetitions", type=int, default=2, help="performances a subject")
    parser.add_argument("--frames", type=int, default=36, help="frames a video")
    parser.add_argument("--coco-subjects", type=int, default=4,
                        help="subjects of the pose model's COCO-format set (one is val)")
    parser.add_argument("--pose-override", action="append", default=[], metavar="KEY=VALUE",
                        help="applied to the tiny pose model's config (e.g. train.epochs=1)")
    parser.add_argument("overrides", nargs="*", help="config overrides for every row")
    cli.add_threads_arg(parser)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds is at least 1, got {args.seeds}")
    return args


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
import mxnet as mx

import detect_persons
import eval_action
import eval_coco
import pseudo_poses
import train_action
import train_pose
import visualize
from engine.config import POSE_BASE, load_config
from data import synth
from common.errors import exit_on_error
from common.files import atomic_write_text
from data.index import read_annotation_3d, read_boxes, read_index
from data.prepare import prepare
from engine.demo import tables as demo_tables
from engine.inference import hardware
from engine.demo.rows import ROWS, ground_truth_poses, row_config, run_rows, seed_runs
from engine.experiment import split_samples
from engine.views.cam import cam_mass_of_videos
from engine.systems import load_model

# The paper's claims, each "a over b" between two rows' heads (Tables 8 and 9): person crops over
# random crops, the pose head over the RGB head alone, the fusion over the RGB head, and the RGB
# head over the pose CNN alone; those that involve poses once with each kind of pose target.
STAGE2 = ROWS[3][0]
PSEUDO = ", pseudo-poses"  # the names of the rows trained on the tiny pose model's poses
CLAIMS = (
    ("person crop over random crop", ("RGBAction person crop", "rgb"),
     ("RGBAction random crop", "rgb")),
    ("KPS over person crop, ground-truth pose targets", ("KPS RGBAction", "rgb"),
     ("RGBAction person crop", "rgb")),
    ("KPS over person crop, pseudo-pose targets", ("KPS RGBAction" + PSEUDO, "rgb"),
     ("RGBAction person crop", "rgb")),
    ("fused over RGB, ground-truth pose targets", (STAGE2, "fused"), (STAGE2, "rgb")),
    ("fused over RGB, pseudo-pose targets", (STAGE2 + PSEUDO, "fused"), (STAGE2 + PSEUDO, "rgb")),
    ("RGB head over the pose CNN alone, ground-truth pose targets", (STAGE2, "rgb"),
     (STAGE2, "pose")),
    ("RGB head over the pose CNN alone, pseudo-pose targets", (STAGE2 + PSEUDO, "rgb"),
     (STAGE2 + PSEUDO, "pose")),
)
SPREAD_NOTE = ("Where the spread over the seeds comes from: each test video's own part (right with "
               "some seeds, wrong with others), which more test videos average out, and the rest, "
               "which a seed shares over all its videos and more test videos leave as it is "
               "(engine/demo/tables.py, spread). Estimates from the seeds at hand.")
CAM_FIGURE_ROWS = ("rgb_random_crop", "kps")  # the paper's Fig. 1 pair: scene vs. body
CAM_NOTE = ("Share (%) of the positive CAM mass of the RGB head inside the person box / the scene "
            "object's box, centre view of each test video. Person-crop rows see the object's "
            "box only where it enters the crop (the object stands outside the person's square "
            "crop), so their object share is near 0 by construction; the random-crop row, which "
            "sees the whole frame, is where the comparison means something. The stage-2 row's "
            "RGB head is the frozen KPS one: same maps.")


def main(argv=None):
    args = cli.start(parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("demo")
    with exit_on_error(log):
        return run(args, log)


def run(args, log):
    tic, cpu = time.time(), [mx.cpu()]
    raw, prepared = os.path.join(args.work, "raw"), os.path.join(args.work, "prepared")
    boxes, poses = os.path.join(args.work, "boxes.json"), os.path.join(args.work, "poses")
    seeds = list(range(args.seeds))
    log.info("1/8 synthesising the benchmark in %s", raw)
    synth.generate(raw, subjects=args.subjects, repetitions=args.repetitions,
                   frames=args.frames, bias=args.bias)
    log.info("2/8 preparing")
    prepare("synth", raw, prepared)
    log.info("3/8 person boxes (ground truth as the detector)")
    if not os.path.exists(boxes) or {s["id"] for s in read_index(prepared)} - set(
            read_boxes(boxes)[0]):  # absent, or made for a smaller benchmark
        detect_persons.run(prepared, boxes, "synth", detector="gt")
    log.info("4/8 pose targets (ground-truth keypoints as pseudo-poses)")
    ground_truth_poses(prepared, poses)
    log.info("5/8 the tiny 2D pose model, trained on other synthetic people: its ResNet is the 2D "
             "network every row's I3D is inflated from, and it labels the videos (step 8)")
    pose_cfg, coco_stats, coco_untrained = pose_model(args, log, cpu)
    common = [f"data.prepared={prepared}", f"data.boxes={boxes}",
              f"model.pretrained={os.path.join(pose_cfg['out'], 'final.params')}"] + args.overrides
    gt = [common + [f"data.poses={poses}", f"runs={seed_runs(args.runs, s, 'demo')}",
                    f"train.seed={s}"] for s in seeds]
    results = [run_rows(ROWS, o, log, train_action.run, eval_action.run, "6/8") for o in gt]
    log.info("7/8 CAM mass on the person and the scene object, and the CAM figure")
    cam_rows = cam_mass_rows(ROWS, gt[0], log)
    figure = cam_figure(gt[0], os.path.join(args.runs, "demo_figures"), log)
    log.info("8/8 pseudo-poses: the pose model labels every video, the pose rows train again")
    pseudo = os.path.join(args.work, "pseudo_poses")
    pseudo_poses.run(pose_cfg, prepared, boxes, pseudo, cpu[0])
    pseudo_results = [run_rows(ROWS[2:], common + [
        f"data.poses={pseudo}", f"runs={seed_runs(args.runs, s, 'demo_pseudo')}",
        f"train.seed={s}"], log, train_action.run, eval_action.run, "8/8") for s in seeds]
    gt_title = "ground-truth poses, synthetic xview3 (test view unbiased)"
    pseudo_title = "pseudo-poses of the tiny pose model"
    if len(seeds) == 1:
        tables = [demo_tables.table(results[0], gt_title),
                  demo_tables.table(pseudo_results[0], pseudo_title)]
    else:
        tables = [demo_tables.seeds_table(results, gt_title),
                  demo_tables.seeds_table(pseudo_results, pseudo_title)]
    claims = claims_of(results, pseudo_results)
    spread = spreads_of(results, pseudo_results) if len(seeds) > 1 else None
    if spread:
        tables.append(demo_tables.spread_table(
            [(f"{r['name']}: {r['head']}", r) for r in spread["rows"]],
            [(c["claim"], c) for c in spread["claims"]]) + "\n\n" + SPREAD_NOTE)
    text = "\n\n".join(tables + [
        demo_tables.claims_table(claims),
        f"tiny pose model on the synthetic COCO-format val set (ground-truth boxes): AP "
        f"{100 * coco_stats['AP']:.1f}, AP50 {100 * coco_stats['AP50']:.1f} after training; "
        f"AP {100 * coco_untrained['AP']:.1f}, AP50 {100 * coco_untrained['AP50']:.1f} untrained",
        demo_tables.cam_table(cam_rows) + "\n\n" + CAM_NOTE,
        f"CAM figure (random crop vs. KPS, seed 0): {figure}"])
    minutes = (time.time() - tic) / 60
    machine = hardware.describe()
    atomic_write_text(os.path.join(args.runs, "demo_results.md"),
                      text + f"\n\nwall time {minutes:.1f} min on "
                             f"{hardware.describe_line(machine)}\n")
    atomic_write_text(os.path.join(args.runs, "demo_results.json"), json.dumps(dict(
        seeds=seeds, rows=[[dict(name=n, **r) for n, r in rows] for rows in results],
        pseudo_rows=[[dict(name=n, **r) for n, r in rows] for rows in pseudo_results],
        claims=claims, spread=spread,
        cam_mass=[dict(name=n, **r) for n, r in cam_rows], cam_figure=figure,
        coco=coco_stats, coco_untrained=coco_untrained, minutes=minutes,
        machine=machine), indent=1))
    print(text)
    print(f"wall time: {minutes:.1f} min on {hardware.describe_line(machine)}")


def pose_model(args, log, cpu):
    """The tiny 2D pose model on a COCO-format set of other synthetic people: trained (resuming)
    and scored -> (its config, COCO keypoint stats trained and untrained)."""
    coco = os.path.join(args.work, "coco")
    if not os.path.exists(os.path.join(coco, "person_keypoints_val.json")):
        synth.generate_coco(coco, subjects=args.coco_subjects)
    cfg = load_config(os.path.join("configs", "pose", "synth_tiny.yaml"), [
        f"data.train_ann={coco}/person_keypoints_train.json",
        f"data.val_ann={coco}/person_keypoints_val.json", f"data.train_images={coco}/images",
        f"data.val_images={coco}/images", f"runs={args.runs}",
        "experiment=demo_pose", *args.pose_override], base=POSE_BASE)
    if not os.path.exists(os.path.join(cfg["out"], "final.params")):
        train_pose.run(cfg, cpu, resume_run=True)
    return cfg, eval_coco.run(cfg, cpu[0], log), eval_coco.run(cfg, cpu[0], log, untrained=True)


def named_rows(results, pseudo_results):
    """Every seed's rows, the pseudo-pose ones with ``PSEUDO`` in their names beside the
    ground-truth ones."""
    return [rows + [(name + PSEUDO, r) for name, r in pseudo]
            for rows, pseudo in zip(results, pseudo_results)]


def claims_of(results, pseudo_results):
    """``CLAIMS`` tested on every seed's rows -> the ``claims`` entries of demo_results.json."""
    seed_rows = named_rows(results, pseudo_results)
    return [demo_tables.claim(text, seed_rows, a, b) for text, a, b in CLAIMS]


def spreads_of(results, pseudo_results):
    """With several seeds, where each row head's and each claim's spread over them comes from
    (``demo_tables.spread``) -> the ``spread`` entry of demo_results.json: {"rows": [{name,
    head, ...}], "claims": [{claim, ...}]}."""
    seed_rows = named_rows(results, pseudo_results)
    heads = [(name, h) for name, r in seed_rows[0] for h in demo_tables.HEADS if h in r["top1"]]
    return dict(
        rows=[dict(name=name, head=h, **demo_tables.spread(
            demo_tables.outcomes_of(seed_rows, (name, h)))) for name, h in heads],
        claims=[dict(claim=text, **demo_tables.spread(demo_tables.outcomes_of(seed_rows, a, b)))
                for text, a, b in CLAIMS])


def cam_mass_rows(rows, overrides, log):
    """Each row's trained model on the test view's centre views -> [(name,
    ``engine.views.cam.cam_mass_of_videos``)]: one forward pass of one clip a video (seconds)."""
    out = []
    for name, row in rows:
        config, overrides = row_config(row, overrides)
        cfg, net, _ = load_model(config, None, overrides, mx.cpu(), log)
        samples = split_samples(cfg, "test")
        boxes = read_boxes(cfg["data"]["boxes"])[0] if cfg["data"]["crop"] == "person" else None
        out.append((name, cam_mass_of_videos(cfg, net, samples, boxes)))
    return out


def figure_videos(cfg, count=1):
    """The first ``count`` test videos whose scene object belongs to another class (the view-3
    videos that fool a model looking at the scene), in index order; the first test videos if
    none has one."""
    chosen, samples = [], split_samples(cfg, "test")
    for s in samples:
        ann = read_annotation_3d(os.path.join(cfg["data"]["prepared"], "annotations",
                                              s["id"] + ".npz"))
        if ann.get("object_class", s["label"]) != s["label"]:
            chosen.append(s["id"])
        if len(chosen) == count:
            break
    return chosen or [s["id"] for s in samples[:count]]


def cam_figure(overrides, out, log):
    """``visualize.py`` on the random-crop and KPS rows -> the first CAM figure's path."""
    paths = [row_config(row, overrides)[0] for row in CAM_FIGURE_ROWS]
    cfg = load_config(paths[0], overrides)
    argv = [a for p in paths for a in ("--config", p)]
    argv += ["--videos", ",".join(figure_videos(cfg)), "--out", out] + list(overrides)
    os.makedirs(out, exist_ok=True)
    written = visualize.run(visualize.parse_args(argv), log)
    return next(p for p in written if os.path.basename(p).startswith("cam_"))


if __name__ == "__main__":
    sys.exit(main())

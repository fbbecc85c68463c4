"""Evaluate a trained Action Machine with the paper's test protocol (Sec. 4.3, "Testing").

    python eval_action.py --config configs/action_machine/nucla/nucla_xview1_kps_pose_r18.yaml \
        [key=value ...]

Each test video gives 10 clips evenly spaced in time x 3 crops (up-left, centre, down-right of the
person box); softmax scores are averaged over the 30 views. Reported: top-1 of the RGB head, the
pose CNN and their fusion (sum of the two averaged softmax outputs), per-class accuracy, and a
confusion matrix. Writes to the config's ``out``: results.json, results.md (a row laid out like
the paper's ablation tables), confusion.png, per_video.jsonl.

With eval.cross_dataset=MAPPING (paper Table 13), a model trained on NTU is tested on another
dataset's test videos of the shared classes (configs/cross_dataset/MAPPING.json): the prediction
is the arg-max over the mapped NTU classes and is right when it maps to the video's class.

Luvizon et al.'s multitask models (model.name softargmax_multitask*) are tested as their paper's
Sec. 4.3 says (``evaluate_multitask``): eval.multitask_clips single (the clip in the middle of the
video) or multi (clips T/2 apart, softmax scores averaged), one crop a clip; reported: top-1 of the
pose stream, the appearance stream (each one's last action block) and the aggregation (paper
Table 5's three columns), in the same files.
"""
from engine.config import add_config_args
from common import cli


def parse_args(argv=None):
    parser = cli.parser(__doc__)
    add_config_args(parser)
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="list an undecodable test video as skipped (with the reason) and "
                             "score the rest; by default it stops the evaluation")
    parser.add_argument("--checkpoint", help="the .params to test (overrides eval.checkpoint; "
                                             "default: the run's last)")
    cli.add_dtype_arg(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":  # --help, a bad flag and the thread count: before MXNet loads
    cli.start(parse_args())

# Below: the imports that load MXNet, after the command line is read above.
from common.cli import with_dtype
from common.errors import check_writable, exit_on_error
from engine.config import load_config_or_exit
from engine.experiment import contexts, setup_logging
from engine.inference import int8
from engine.inference.precision import check_dtype
from engine.systems import checked_against_checkpoint, system_of
from engine.training.checkpoints import checkpoint_or_last


def main(argv=None):
    args = cli.start(parse_args(argv))
    overrides = with_dtype(args.overrides, args.dtype)
    if args.checkpoint:
        overrides.append(f"eval.checkpoint={args.checkpoint}")
    cfg = load_config_or_exit(args.config, overrides)
    return run(cfg, contexts(args.gpus, args.cpus), args.skip_unreadable)


def run(cfg, ctxs, skip_unreadable=False):
    """Check the checkpoint against the config and the inputs, then evaluate (one-line errors)."""
    with exit_on_error():
        check_dtype(cfg["eval"]["dtype"], ctxs[0], calibrates=True)
        if cfg["eval"]["dtype"] == "int8":
            int8.check_model(cfg["model"]["name"])
        ckpt = checkpoint_or_last(cfg["out"], cfg["eval"]["checkpoint"])
        cfg = checked_against_checkpoint(cfg, ckpt)
        system = system_of(cfg)
        data, mapping = system.test_data(cfg, skip_unreadable)  # index, splits, boxes: first
        check_writable(cfg["out"])
        log = setup_logging(cfg["out"], "eval")
    with exit_on_error(log):
        return system.evaluate(cfg, ctxs, log, ckpt, data, mapping)


if __name__ == "__main__":
    main()

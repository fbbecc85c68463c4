"""The one inference path of every evaluating stage: a trained network built for inference, its
checkpoint's weights loaded strictly, and run in the config's eval.dtype.

    net = loaded_model(cfg, ctx, ckpt, log)   # called as the network: outputs in output_names

- The network is built for inference: Action Machine with plain 5D batch norm
  (``bn_fold_time=False``: the same parameters, oneDNN can fuse it; the 4D view exists for
  training on CPU) and no cross-device batch norm (inference uses the running statistics).
- float32 on a CPU is the oneDNN-fused graph (``precision.Fused``); bfloat16 / float16 go
  through AMP (engine/inference/precision.py).
- int8 (engine/inference/int8.py) is calibrated on eval.int8_calibration_clips clips of the run's own
  training split (eval.int8_calibration: naive | entropy), with the parts eval.int8_float32
  names kept float32; the thresholds are cached beside the checkpoint and reused.
"""
from engine.inference import int8
from engine.training.checkpoints import load_weights, sha256
from engine.experiment import (
    clip_dataset,
    is_softargmax,
    model_options,
    multitask_clips,
    multitask_options,
    split_samples,
)
from engine.inference.precision import for_inference
from symbols import get_model


def inference_network(cfg, ctx):
    """The config's network on ``ctx``, built for inference (random weights: load a checkpoint)."""
    if is_softargmax(cfg):
        options = multitask_options(cfg)
    else:
        options = dict(model_options(cfg), bn_fold_time=False)
        options.pop("sync_devices", None)
    return get_model(cfg["model"]["name"], ctx=[ctx], **options)


def loaded_model(cfg, ctx, ckpt, log):
    """The config's network with ``ckpt``'s weights (strictly), run in eval.dtype."""
    net = inference_network(cfg, ctx)
    load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True, static_shape=True)
    return in_dtype(net, cfg, ctx, ckpt, log)


def in_dtype(net, cfg, ctx, ckpt, log):
    """A loaded network run in the config's eval.dtype; int8 calibrates (or reads its cache)."""
    dtype = cfg["eval"]["dtype"]
    if dtype != "int8":
        return for_inference(net, dtype, ctx, log=log)
    int8.check_model(cfg["model"]["name"])
    wanted, digest = int8.settings(cfg), sha256(ckpt)
    thresholds = int8.read_cache(ckpt, wanted, digest)
    if thresholds is None:
        clips = int8.calibration_clips(training_clips(cfg), wanted["clips"])
        log.info("int8: calibrating (%s) on %d training clips; float32 parts: %s",
                 wanted["calibration"], len(clips), ", ".join(wanted["float32"]) or "none")
        thresholds = int8.calibrate(net, clips, wanted["calibration"], wanted["float32"])
        int8.write_cache(ckpt, wanted, digest, thresholds)
        log.info("int8: thresholds of %d layers written to %s", len(thresholds),
                 int8.cache_path(ckpt))
    else:
        log.info("int8: thresholds read from %s", int8.cache_path(ckpt))
    return for_inference(net, "int8", ctx, log=log, thresholds=thresholds,
                         float32_parts=wanted["float32"])


def training_clips(cfg):
    """The run's training split as training clips (the data its model was trained on)."""
    samples = split_samples(cfg, "train")
    if is_softargmax(cfg):
        return multitask_clips(cfg, samples, "train")
    return clip_dataset(cfg, samples, "train", with_poses=False)

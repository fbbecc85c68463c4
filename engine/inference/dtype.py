"""The one inference path of every evaluating stage: a trained network built for inference, its
checkpoint's weights loaded strictly, and run in the config's eval.dtype.

    net = engine.systems.loaded_model(cfg, ctx, ckpt, log)   # outputs in net.output_names

- Each system builds its network for inference (engine/experiment.py: Action Machine with plain
  5D batch norm, the subsampled stride-2 shortcuts and no cross-device batch norm) and loads it
  (engine/systems/loading.py), and ``in_dtype`` here runs it in eval.dtype.
- float32 on a CPU is the oneDNN-fused graph (``precision.Fused``); bfloat16 / float16 go
  through AMP (engine/inference/precision.py).
- int8 (engine/inference/int8.py) is calibrated on eval.int8_calibration_clips clips of the run's own
  training split (eval.int8_calibration: naive | entropy), with the parts eval.int8_float32
  names kept float32 and, with eval.int8_auto, the parts a check against float32 on those clips
  picks; the thresholds and the float32 parts are cached beside the checkpoint and reused.
"""
from common.files import sha256
from engine.inference import int8, int8_check
from engine.inference.precision import for_inference


def in_dtype(net, cfg, ctx, ckpt, log, training_clips):
    """A network with ``ckpt``'s weights run in the config's eval.dtype; int8 calibrates on
    ``training_clips()`` (the run's training clips) or reads its cache."""
    dtype = cfg["eval"]["dtype"]
    if dtype != "int8":
        return for_inference(net, dtype, ctx, log=log)
    int8.check_model(cfg["model"]["name"])
    wanted, digest = int8.settings(cfg), sha256(ckpt)
    cached, values = int8.read_cache(ckpt, wanted, digest), None
    if cached is None:
        clips, labels = int8.calibration_clips(training_clips(), wanted["clips"], True)
        log.info("int8: calibrating (%s) on %d training clips; float32 parts: %s%s",
                 wanted["calibration"], len(clips), ", ".join(wanted["float32"]) or "none",
                 " and the automatic choice" if wanted["auto"] else "")
        values, thresholds, chosen, tried = int8_check.calibrated(net, clips, labels, wanted,
                                                                  log)
        int8.write_cache(ckpt, wanted, digest, thresholds, chosen, tried)
        log.info("int8: thresholds of %d layers and the float32 parts (%s) written to %s",
                 len(thresholds), ", ".join(chosen) or "none", int8.cache_path(ckpt))
    else:
        thresholds, chosen = cached
        log.info("int8: thresholds and float32 parts (%s) read from %s",
                 ", ".join(chosen) or "none", int8.cache_path(ckpt))
    return for_inference(net, "int8", ctx, log=log, thresholds=thresholds,
                         float32_parts=chosen, values=values)

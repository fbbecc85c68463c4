"""A system's network for inference: its checkpoint's weights loaded strictly, hybridized, run in
the config's eval.dtype (engine/inference/dtype.py)."""
from engine.inference.dtype import in_dtype
from engine.training.checkpoints import load_weights


def loaded(net, cfg, ctx, ckpt, log, training_clips):
    """``net`` (built for inference on ``ctx``) with ``ckpt``'s weights (strictly), run in
    eval.dtype; ``training_clips()`` -> the run's training clips, read only to calibrate int8."""
    load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True, static_shape=True)
    return in_dtype(net, cfg, ctx, ckpt, log, training_clips)

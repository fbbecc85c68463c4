"""A trained network ready to score: built from its config, its checkpoint's weights loaded
strictly, hybridized, and run in the config's eval.dtype (engine/precision.py)."""
from engine.checkpoints import load_weights
from engine.experiment import build_model
from engine.precision import for_inference


def loaded_model(cfg, ctx, ckpt, log):
    """The config's network with ``ckpt``'s weights (strictly), run in eval.dtype."""
    net = build_model(cfg, [ctx])
    load_weights(net, ckpt, [ctx], log)
    net.hybridize(static_alloc=True)
    return for_inference(net, cfg["eval"]["dtype"], ctx)  # precision.py

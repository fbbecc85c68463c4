"""Gluon HybridBlocks of both systems and the person detector; ``get_model(name)`` builds any
named model (``MODELS``: name -> family).

The registry loads on first use (``from symbols import get_model`` imports MXNet then), so a
script can read names such as ``symbols.detector.RFCN_DETECTORS`` for its --help without
loading MXNet.
"""
__all__ = ["MODELS", "ModelConfig", "family_of", "get_model", "model_config", "multitask_config",
           "names", "register"]


def __getattr__(name):
    if name in __all__:
        from symbols import model_zoo
        return getattr(model_zoo, name)
    raise AttributeError(f"module 'symbols' has no attribute {name!r}")

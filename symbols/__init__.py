"""Gluon HybridBlocks of both systems and the person detector; ``get_model(name)`` builds any
named model (``MODELS``: name -> family)."""
from symbols.model_zoo import MODELS, ModelConfig, get_model, model_config, multitask_config, names

__all__ = ["MODELS", "ModelConfig", "get_model", "model_config", "multitask_config", "names"]

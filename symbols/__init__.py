"""Network definitions of Action Machine as Gluon HybridBlocks; ``get_model(name)`` builds one."""
from .model_zoo import MODELS, ModelConfig, get_model, model_config

__all__ = ["MODELS", "ModelConfig", "get_model", "model_config"]

"""Network definitions of Action Machine as Gluon HybridBlocks; ``get_model(name)`` builds one."""
from .model_zoo import (MODELS, POSE_MODELS, ModelConfig, get_model, get_pose_model,
                        model_config)

__all__ = ["MODELS", "POSE_MODELS", "ModelConfig", "get_model", "get_pose_model",
           "model_config"]

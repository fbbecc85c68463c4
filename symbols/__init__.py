"""Network definitions of Action Machine as Gluon HybridBlocks; ``get_model(name)`` builds one."""
from .model_zoo import (MODELS, MULTITASK_MODELS, POSE_MODELS, ModelConfig, get_model,
                        get_pose_model, model_config, multitask_config)

__all__ = ["MODELS", "MULTITASK_MODELS", "POSE_MODELS", "ModelConfig", "get_model",
           "get_pose_model", "model_config", "multitask_config"]

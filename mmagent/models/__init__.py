from .backbones import MLLA, AgentPVT, AgentSwinTransformer
from .layers import AgentAttention

__all__ = ["AgentAttention", "AgentPVT", "AgentSwinTransformer", "MLLA"]

from .backbones import MLLA, AgentCSWin, AgentDeiT, AgentPVT, AgentSwinTransformer
from .layers import AgentAttention

__all__ = ["AgentAttention", "AgentCSWin", "AgentDeiT", "AgentPVT", "AgentSwinTransformer",
           "MLLA"]

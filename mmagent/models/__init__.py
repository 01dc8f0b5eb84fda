from .backbones import (MLLA, AgentCSWin, AgentDeiT, AgentPVT, AgentSwinTransformer,
                        FLattenCSWin, FLattenPVT, FLattenPVTv2, FLattenSwinTransformer)
from .layers import AgentAttention, FocusedLinearAttention

__all__ = ["AgentAttention", "AgentCSWin", "AgentDeiT", "AgentPVT", "AgentSwinTransformer",
           "FLattenCSWin", "FLattenPVT", "FLattenPVTv2", "FLattenSwinTransformer",
           "FocusedLinearAttention", "MLLA"]

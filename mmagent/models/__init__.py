from .backbones import (MLLA, AgentCSWin, AgentDeiT, AgentPVT, AgentSwinTransformer,
                        FLattenCSWin, FLattenPVT, FLattenPVTv2, FLattenSwinTransformer)
from .hosts import CSWinHost, DeiTHost, MLLAHost, PVTHost, PVTv2Host, SwinHost
from .layers import (AgentAttention, CSWinStripeAttention, DeiTSelfAttention,
                     FocusedLinearAttention, MLLALinearAttention, PVTSRAttention,
                     SwinWindowAttention)

__all__ = [
    'AgentAttention', 'AgentCSWin', 'AgentDeiT', 'AgentPVT', 'AgentSwinTransformer',
    'CSWinHost', 'CSWinStripeAttention', 'DeiTHost', 'DeiTSelfAttention', 'FLattenCSWin',
    'FLattenPVT', 'FLattenPVTv2', 'FLattenSwinTransformer', 'FocusedLinearAttention',
    'MLLA', 'MLLAHost', 'MLLALinearAttention', 'PVTHost', 'PVTSRAttention', 'PVTv2Host',
    'SwinHost', 'SwinWindowAttention'
]

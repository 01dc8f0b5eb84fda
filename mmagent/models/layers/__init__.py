from .agent_attention import AgentAttention, agent_attention_biases
from .deformable_attention import DeformableAttention
from .focused_linear_attention import FocusedLinearAttention
from .mlla_attention import MLLALinearAttention
from .mlp import Mlp
from .neighborhood_attention import NeighborhoodAttention
from .runtime import BiasCacheBudget, configure_runtime, set_cpu_kernels
from .self_attention import DeiTSelfAttention
from .sr_attention import PVTSRAttention
from .stripe_attention import CSWinStripeAttention
from .window_attention import SwinWindowAttention

__all__ = [
    'AgentAttention', 'BiasCacheBudget', 'CSWinStripeAttention', 'DeformableAttention',
    'DeiTSelfAttention', 'FocusedLinearAttention', 'MLLALinearAttention', 'Mlp',
    'NeighborhoodAttention', 'PVTSRAttention', 'SwinWindowAttention',
    'agent_attention_biases', 'configure_runtime', 'set_cpu_kernels'
]

from .agent_attention import AgentAttention, agent_attention_biases
from .focused_linear_attention import FocusedLinearAttention
from .mlla_attention import MLLALinearAttention
from .mlp import Mlp
from .runtime import BiasCacheBudget, configure_runtime, set_cpu_kernels
from .self_attention import DeiTSelfAttention
from .sr_attention import PVTSRAttention
from .stripe_attention import CSWinStripeAttention
from .window_attention import SwinWindowAttention

__all__ = ['AgentAttention', 'BiasCacheBudget', 'CSWinStripeAttention',
           'DeiTSelfAttention', 'FocusedLinearAttention', 'MLLALinearAttention', 'Mlp',
           'PVTSRAttention', 'SwinWindowAttention', 'agent_attention_biases',
           'configure_runtime', 'set_cpu_kernels']

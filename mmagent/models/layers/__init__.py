from .agent_attention import AgentAttention, agent_attention_biases
from .deformable_attention import DeformableAttention
from .focused_linear_attention import FocusedLinearAttention
from .mlp import Mlp
from .neighborhood_attention import NeighborhoodAttention

__all__ = ['AgentAttention', 'DeformableAttention', 'FocusedLinearAttention', 'agent_attention_biases', 'Mlp',
           'NeighborhoodAttention']

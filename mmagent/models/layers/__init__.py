from .agent_attention import AgentAttention, agent_attention_biases
from .mlp import Mlp, gelu_mlp

__all__ = ['AgentAttention', 'agent_attention_biases', 'Mlp', 'gelu_mlp']

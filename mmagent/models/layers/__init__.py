from .agent_attention import AgentAttention, agent_attention_biases
from .mlp import Mlp

__all__ = ['AgentAttention', 'agent_attention_biases', 'Mlp']

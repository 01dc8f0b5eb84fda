from .agent_attention import AgentAttention, agent_attention_biases

__all__ = ['AgentAttention', 'agent_attention_biases']

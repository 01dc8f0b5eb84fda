from .backbones import AgentPVT, AgentSwinTransformer
from .layers import AgentAttention

__all__ = ['AgentAttention', 'AgentPVT', 'AgentSwinTransformer']

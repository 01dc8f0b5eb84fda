from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer

__all__ = ['AgentPVT', 'AgentSwinTransformer']

from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .mlla import MLLA

__all__ = ['AgentPVT', 'AgentSwinTransformer', 'MLLA']

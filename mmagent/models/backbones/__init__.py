from .agent_cswin import AgentCSWin
from .agent_deit import AgentDeiT
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .mlla import MLLA

__all__ = ['AgentCSWin', 'AgentDeiT', 'AgentPVT', 'AgentSwinTransformer', 'MLLA']

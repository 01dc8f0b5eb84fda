"""The nine published families: each a preset of a host (:mod:`mmagent.models.hosts`)
and registered attentions."""
from .agent_cswin import AgentCSWin
from .agent_deit import AgentDeiT
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .dat import DAT
from .flatten import FLattenCSWin, FLattenPVT, FLattenPVTv2, FLattenSwinTransformer
from .mlla import MLLA

__all__ = [
    'AgentCSWin', 'AgentDeiT', 'AgentPVT', 'AgentSwinTransformer', 'DAT', 'FLattenCSWin',
    'FLattenPVT', 'FLattenPVTv2', 'FLattenSwinTransformer', 'MLLA'
]

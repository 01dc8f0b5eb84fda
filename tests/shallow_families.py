"""Every family at small depths, for checks that trace or export whole backbones
(ONNX, torch.compile): quick on 2 cores, and every block kind of each family is still
in the graph. Each entry takes the backbone's keyword arguments."""
from mmagent.models import backbones as B

FAMILIES = {
    'agent_pvt':
    lambda **kw: B.AgentPVT(arch='tiny', depths=[1, 1, 1, 1], **kw),
    'flatten_pvt':
    lambda **kw: B.FLattenPVT(arch='tiny', depths=[1, 1, 1, 1], **kw),
    'flatten_pvt_v2':
    lambda **kw: B.FLattenPVTv2(arch='b0', depths=[1, 1, 1, 1], **kw),
    # two blocks in stage 3: the shifted windows (and their mask) are in the graph
    'agent_swin':
    lambda **kw: B.AgentSwinTransformer(arch='tiny', depths=[1, 1, 2, 1], **kw),
    'flatten_swin':
    lambda **kw: B.FLattenSwinTransformer(arch='tiny', depths=[1, 1, 2, 1], **kw),
    'agent_cswin':
    lambda **kw: B.AgentCSWin(arch='tiny', depths=[1, 1, 1, 1], **kw),
    'flatten_cswin':
    lambda **kw: B.FLattenCSWin(arch='tiny', depths=[1, 1, 1, 1], **kw),
    'agent_deit':
    lambda **kw: B.AgentDeiT(arch='tiny', depth=2, **kw),
    'mlla':
    lambda **kw: B.MLLA(arch='tiny', depths=[1, 1, 1, 1], **kw),
    'dat':
    lambda **kw: B.DAT(arch='tiny', depths=[2, 1, 1, 1], stage_spec=['ND', 'D', 'D', 'D'],
                       **kw),
}

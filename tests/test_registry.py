"""The foundation: the package, its registries, and how other codebases reach them."""
import importlib
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS

import mmagent
from mmagent.models import AgentPVT, AgentSwinTransformer
from mmagent.registry import MODELS
from tests.conftest import ROOT

SMALL = dict(
    arch=dict(embed_dims=[16, 32, 48, 64], depths=[1, 1, 1, 1], num_heads=[1, 2, 3, 4],
              mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1], attn_type='AAAB',
              agent_num=[4, 4, 4, 4], downstream_agent_shapes=[(2, 2)] * 4))


def test_package_imports_with_a_version():
    assert mmagent.__version__.count('.') == 2


def test_registry_is_a_child_of_mmengine_root():
    assert MODELS.scope == 'mmagent'
    assert MODELS.parent is ROOT_MODELS
    assert ROOT_MODELS.children['mmagent'] is MODELS
    assert MODELS.get('AgentPVT') is AgentPVT
    assert MODELS.get('AgentSwinTransformer') is AgentSwinTransformer


@pytest.mark.parametrize('registry_module',
                         ['mmdet.registry', 'mmseg.registry', 'mmpretrain.registry'])
@pytest.mark.parametrize('type_name', ['mmagent.AgentPVT', 'AgentPVT'])
def test_buildable_from_each_codebase(registry_module, type_name):
    if registry_module == 'mmpretrain.registry':
        # Its registry imports mmpretrain.models on first use, which imports
        # torchvision; torch 2.13 has no CPU torchvision build on this machine.
        pytest.importorskip(
            'torchvision', reason='mmpretrain 1.2 needs torchvision, '
            'which has no CPU build for torch 2.13 here')
    registry = importlib.import_module(registry_module).MODELS
    assert registry.parent is ROOT_MODELS
    model = registry.build(dict(type=type_name, **SMALL))
    assert isinstance(model, AgentPVT)
    outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 32, 48, 64]


def test_plain_name_after_custom_imports_in_a_fresh_process(tmp_path):
    """A config that only lists custom_imports reaches the models by plain name."""
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        textwrap.dedent("""
        custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
        default_scope = 'mmseg'
        backbone = dict(type='AgentSwinTransformer', arch='tiny', out_indices=(3, ))
    """))
    script = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        assert 'mmagent' not in sys.modules
        cfg = Config.fromfile({str(cfg_file)!r})   # runs custom_imports
        assert 'mmagent' in sys.modules
        from mmseg.registry import MODELS
        m = MODELS.build(cfg.backbone)
        print(type(m).__module__, type(m).__name__)
    """)
    out = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                         text=True, env={
                             'PYTHONPATH': ROOT,
                             'PATH': '/usr/bin:/bin'
                         })
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'mmagent.models.backbones.agent_swin AgentSwinTransformer' in out.stdout


def test_double_import_and_register_all_modules_are_harmless():
    script = textwrap.dedent("""
        import importlib
        import mmagent
        import mmagent.models.backbones.agent_pvt as m
        importlib.reload(m)          # re-executes the @register_module decorators
        importlib.reload(mmagent)
        from mmdet.utils import register_all_modules as det_all
        from mmseg.utils import register_all_modules as seg_all
        det_all(); seg_all(); det_all()
        import mmagent  # noqa
        from mmdet.registry import MODELS
        print(type(MODELS.build(dict(type='mmagent.AgentPVT'))).__name__)
        print(type(MODELS.build(dict(type='AgentPVT'))).__name__)
    """)
    out = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                         text=True, env={
                             'PYTHONPATH': ROOT,
                             'PATH': '/usr/bin:/bin'
                         })
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ['AgentPVT', 'AgentPVT']


def test_a_different_class_under_a_taken_name_still_fails():
    with pytest.raises(KeyError, match='already registered'):

        @MODELS.register_module(name='AgentPVT')
        class Impostor(torch.nn.Module):
            pass


def test_plain_names_do_not_displace_other_modules_in_the_root():

    @ROOT_MODELS.register_module(name='MmagentTestThing')
    class Theirs(torch.nn.Module):
        pass

    @MODELS.register_module(name='MmagentTestThing')
    class Ours(torch.nn.Module):
        pass

    assert ROOT_MODELS.get('MmagentTestThing') is Theirs
    assert ROOT_MODELS.get('mmagent.MmagentTestThing') is Ours


def test_configs_list_custom_imports():
    import glob

    from tests.test_configs import CONFIGS  # these are checked where they build
    for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True):
        if osp.basename(osp.dirname(path)) == '_base_' or \
                osp.relpath(path, ROOT) in CONFIGS:
            continue
        cfg = Config.fromfile(path, import_custom_modules=False)
        assert 'mmagent' in cfg.custom_imports['imports'], path


@pytest.mark.parametrize('registry_module',
                         ['mmdet.registry', 'mmseg.registry', 'mmpretrain.registry'])
def test_host_and_attention_names_do_not_clash_with_the_codebases(registry_module):
    import mmagent.models as models
    registry = importlib.import_module(registry_module).MODELS
    if registry_module == 'mmpretrain.registry':
        importlib.import_module('mmpretrain.models')
    else:
        importlib.import_module(registry_module.split('.')[0] + '.models')
    ours = [n for n in models.__all__ if n.endswith(('Host', 'Attention'))]
    assert len(ours) >= 12
    taken = [n for n in ours if n in registry.module_dict]
    assert taken == []
    for name in ours:  # and each is ours by plain name in the root
        assert ROOT_MODELS.get(name) is getattr(models, name)

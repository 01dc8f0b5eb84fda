"""Every zoo entry's published file, built from its committed key table
(tests/published_keys, made from the authors' code), is served, fetched, converted and
loaded into the model of its config: zero missing, zero unexpected keys, equal shapes.

The tables are not made from mmagent, so a key mmagent names differently from the
authors fails here; the last tests change one name in a table and see exactly that.
"""
import contextlib
import importlib
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmagent import zoo
from mmagent.testing import key_table, key_tables, published_checkpoint

ENTRIES = zoo.load_index()  # the real index (zoo_env later points the zoo elsewhere)
# the classifier's own keys, which a backbone leaves out (DAT++ names them cls_*)
CLASSIFIER_ONLY = {
    'head.weight', 'head.bias', 'norm.weight', 'norm.bias', 'cls_head.weight',
    'cls_head.bias', 'cls_norm.norm.weight', 'cls_norm.norm.bias'
}


def test_every_zoo_entry_has_its_table():
    tables = key_tables()
    assert set(tables) == set(ENTRIES)
    for name, table in tables.items():
        entry = ENTRIES[name]
        assert table['layout'] == entry.layout, name
        assert table['published'] == entry.published, name
        if table.get('keys') is None:  # no file of its own: starts from an ImageNet one
            assert not entry.published and table['init_from'] in tables, name


@contextlib.contextmanager
def _no_random_init():
    """Build real modules without drawing their random initial values (the tests
    here compare names and shapes only; building the 63 models with initialisation
    would take minutes on two cores)."""
    names = ('uniform_', 'normal_', 'trunc_normal_', 'kaiming_uniform_',
             'kaiming_normal_', 'xavier_uniform_', 'xavier_normal_', 'constant_')
    with contextlib.ExitStack() as stack:
        for n in names:
            stack.enter_context(
                mock.patch.object(torch.nn.init, n, lambda t, *args, **kwargs: t))
        yield


_LAST = {}
_CONFIGS = {}


def config_of(entry):
    """``entry``'s config, parsed once (a parse reads the base package's model index)."""
    if entry.config_path not in _CONFIGS:
        _CONFIGS[entry.config_path] = Config.fromfile(entry.config_path)
    return _CONFIGS[entry.config_path]


def build(entry):
    """The model of ``entry``'s config (one cached: 1x / 3x entries share a model)."""
    cfg = config_of(entry)
    scope = cfg.get('default_scope', 'mmpretrain')
    key = (scope, repr(cfg.model))
    if key not in _LAST:
        _LAST.clear()
        with DefaultScope.overwrite_default_scope(scope), _no_random_init():
            importlib.import_module(f'{scope}.utils').register_all_modules(False)
            registry = importlib.import_module(f'{scope}.registry')
            _LAST[key] = registry.MODELS.build(cfg.model)
    return _LAST[key]


def serve(zoo_env, tmp_path, name, ckpt, layout):
    """Serve ``ckpt`` as zoo entry ``name``, with the real entry's config (the zoo
    converts a file with the family that config names)."""
    src = tmp_path / f'{name}_published.pth'
    torch.save(ckpt, src)
    zoo_env(name, str(src), layout=layout, config=ENTRIES[name].config)


def check_loads(entry, table, zoo_env, tmp_path):
    """Serve the file of ``table``, fetch and convert it through the zoo, load it into
    ``entry``'s model; assert nothing is missing or unexpected and shapes match."""
    if table.get('keys') is None:
        return check_init_file(entry, table, zoo_env, tmp_path)
    serve(zoo_env, tmp_path, entry.name, published_checkpoint(table, light=True),
          entry.layout)
    target = 'mmpretrain' if entry.layout == 'timm' else 'backbone'
    converted = torch.load(
        zoo.fetch(entry.name, target=target, progress=False), weights_only=True)
    model = build(entry)
    # a shape mismatch raises; names come back as lists
    result = model.load_state_dict(converted['state_dict'], strict=False)
    assert not result.missing_keys and not result.unexpected_keys, (
        f'{entry.name}: missing {result.missing_keys}, unexpected '
        f'{result.unexpected_keys}')
    if entry.layout == 'timm':  # the same file as a backbone's init_cfg loads it
        backbone_file = zoo.fetch(entry.name, progress=False)
        missing, ignored = model.backbone.load_pretrained(backbone_file)
        assert not missing and set(ignored) <= CLASSIFIER_ONLY, (
            f'{entry.name}: backbone missing {missing}, ignored {ignored}')


def check_init_file(entry, table, zoo_env, tmp_path):
    """An entry without a file of its own: its config's backbone starts from the
    ImageNet file ``init_from``, which must load with no backbone key missing."""
    cfg = config_of(entry)
    assert cfg.model.backbone.init_cfg.checkpoint == f'mmagent://{table["init_from"]}'
    init = key_table(table['init_from'])
    serve(zoo_env, tmp_path, init['name'], published_checkpoint(init, light=True), 'timm')
    missing, ignored = build(entry).backbone.load_pretrained(
        zoo.fetch(init['name'], progress=False))
    assert not missing and set(ignored) <= CLASSIFIER_ONLY, (
        f'{entry.name}: backbone missing {missing}, ignored {ignored}')


@pytest.mark.parametrize('name', list(ENTRIES))
def test_published_file_converts_and_loads_every_key(name, zoo_env, tmp_path):
    check_loads(ENTRIES[name], key_table(name), zoo_env, tmp_path)


def _renamed(table, old, new):
    table['keys'] = {new if k == old else k: v for k, v in table['keys'].items()}
    return table


@pytest.mark.parametrize('name,key', [
    ('agent_pvt_t_in1k', 'block1.0.attn.an_bias'),
    ('maskrcnn_agent_swin_t_coco_1x', 'backbone.layers.0.blocks.0.attn.dwc.weight'),
    ('fpn_agent_pvt_t_ade20k_40k', 'decode_head.conv_seg.weight'),
])
def test_one_renamed_published_key_fails_the_loading_check(name, key, zoo_env, tmp_path):
    """The loading check above, on a table with one name changed: it fails and names
    the key."""
    table = key_table(name)
    assert key in table['keys']
    wrong = key.rsplit('.', 1)[0] + '_renamed.' + key.rsplit('.', 1)[1]
    with pytest.raises(AssertionError, match=key.replace('.', r'\.')) as err:
        check_loads(ENTRIES[name], _renamed(table, key, wrong), zoo_env, tmp_path)
    assert wrong.split('.')[-2] in str(err.value)  # and reports the unexpected one


def test_one_changed_published_shape_fails_the_loading_check(zoo_env, tmp_path):
    table = key_table('agent_swin_t_in1k')
    table['keys']['layers.0.blocks.0.attn.an_bias'][1] += 1
    with pytest.raises(RuntimeError, match=r'layers\.0\.blocks\.0\.attn\.an_bias'):
        check_loads(ENTRIES['agent_swin_t_in1k'], table, zoo_env, tmp_path)

"""The model-zoo index: ``configs/metafile.yml`` read into :class:`ZooEntry` records.

In a clone (or an editable install) the configs are the clone's ``configs/``; a wheel
carries them under the package, in ``mmagent/.mim/configs`` (the OpenMMLab layout).
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Optional

import yaml

PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def configs_root():
    """The folder holding mmagent's configs and ``metafile.yml``."""
    clone = osp.dirname(PACKAGE_DIR)
    if osp.isfile(osp.join(clone, 'setup.py')) and osp.isfile(
            osp.join(clone, 'configs', 'metafile.yml')):
        return osp.join(clone, 'configs')
    return osp.join(PACKAGE_DIR, '.mim', 'configs')


def metafile_path():
    return os.environ.get('MMAGENT_METAFILE') or osp.join(configs_root(), 'metafile.yml')


@dataclass(frozen=True)
class ZooEntry:
    name: str
    collection: str
    config: Optional[str]
    task: str
    dataset: str
    metrics: dict
    params: str
    flops: str
    url: Optional[str]
    file_name: str
    sha256: Optional[str]
    layout: str
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def config_path(self):
        """The config file (``Config`` names it as ``configs/...`` in the metafile)."""
        if not self.config:
            return None
        rel = self.config.split('/', 1)[1] if self.config.startswith('configs/') \
            else self.config
        return osp.join(configs_root(), rel)

    @property
    def published(self):
        return bool(self.url)


def _entry(m):
    meta = dict(m.get('Metadata') or {})
    results = m.get('Results') or []
    metrics = {}
    for r in results:
        metrics.update(r.get('Metrics') or {})
    return ZooEntry(name=m['Name'], collection=m.get('In Collection', ''),
                    config=m.get('Config'), task=results[-1]['Task'] if results else '',
                    dataset=meta.get('Training Data', ''), metrics=metrics,
                    params=str(meta.get('Parameters',
                                        '')), flops=str(meta.get('FLOPs', '')),
                    url=m.get('Weights'), file_name=m.get('File') or f"{m['Name']}.pth",
                    sha256=m.get('SHA256'), layout=meta.get('Checkpoint Layout',
                                                            'timm'), extra=meta)


_CACHE = {}


def load_index(path=None):
    """All entries, in metafile order, keyed by name."""
    path = path or metafile_path()
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmagent zoo index {path} is missing: the package was installed without '
            f'its configs (build the wheel from a clone with setup.py), or '
            f'MMAGENT_METAFILE points nowhere')
    key = (path, osp.getmtime(path))
    if key not in _CACHE:
        with open(path) as f:
            doc = yaml.safe_load(f)
        _CACHE.clear()
        _CACHE[key] = {m['Name']: _entry(m) for m in doc.get('Models', [])}
    return _CACHE[key]


def get_entry(name, index=None):
    index = index or load_index()
    if name not in index:
        import difflib
        close = difflib.get_close_matches(name, list(index), n=3)
        hint = f' Did you mean {", ".join(close)}?' if close else ''
        raise KeyError(f'no model named {name!r} in the mmagent zoo.{hint} '
                       f'`python tools/download.py --list` lists them.')
    return index[name]


def format_table(index=None, markdown=False):
    """The zoo as a table (plain text for --list, Markdown for the README)."""
    index = index or load_index()
    head = ['name', 'task', 'dataset', 'metrics', 'params', 'FLOPs', 'config', 'weights']
    rows = []
    for e in index.values():
        metrics = ', '.join(f'{k} {v}' for k, v in e.metrics.items()) or \
            'none published (config only)'
        rows.append([
            e.name, e.task, e.dataset, metrics, e.params, e.flops, e.config or '-',
            'published' if e.published else 'not published'
        ])
    if markdown:
        lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        for r in rows:
            r = list(r)
            r[6] = f'[{osp.basename(r[6])}]({r[6]})' if r[6] != '-' else '-'
            lines.append('| ' + ' | '.join(f'`{r[0]}`' if i == 0 else str(c)
                                           for i, c in enumerate(r)) + ' |')
        return '\n'.join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = '  '.join(f'{{:<{w}}}' for w in widths)
    return '\n'.join([fmt.format(*head)] + [fmt.format(*map(str, r)) for r in rows])

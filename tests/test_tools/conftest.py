import os
import os.path as osp
import subprocess
import sys

import pytest

from mmagent.testing.toy_data import make_ade_segmentation, make_coco_instances
from tests.conftest import ROOT


@pytest.fixture(scope='session')
def toy_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_coco'))
    make_coco_instances(root, num_train=4, num_val=2, seed=1)
    return root + '/'


@pytest.fixture(scope='session')
def toy_ade(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_ade'))
    make_ade_segmentation(root, num_train=4, num_val=2, seed=1)
    return root + '/'


def run_tool(*args, cwd=ROOT, check=True, timeout=900, env=None):
    """Run a repo tool in a fresh interpreter, as a user would."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2')
    full_env.update(env or {})
    out = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, env=full_env)
    if check and out.returncode != 0:
        raise AssertionError(f'{" ".join(args)} exited {out.returncode}:\n'
                             f'{out.stdout[-3000:]}\n{out.stderr[-5000:]}')
    return out


def config_path(name):
    return osp.join(ROOT, 'configs', name)


from mmagent.engine import read_metrics  # noqa: E402,F401  (tests import it from here)

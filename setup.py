import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    ns = {}
    with open(osp.join(HERE, 'mmagent', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def add_mim_extension():
    """Copy ``configs/`` and ``tools/`` into ``mmagent/.mim/`` for a wheel or sdist, the
    OpenMMLab layout: an installed mmagent finds its zoo index and configs there. An
    editable install reads the clone's folders directly and needs no copy."""
    if not any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist', 'build', 'install')):
        return
    mim = osp.join(HERE, 'mmagent', '.mim')
    for name in ('configs', 'tools'):
        dst = osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        shutil.copytree(
            osp.join(HERE, name), dst,
            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def package_files(folder):
    out = []
    for root, _, files in os.walk(osp.join(HERE, 'mmagent', folder)):
        for f in files:
            out.append(osp.relpath(osp.join(root, f), osp.join(HERE, 'mmagent')))
    return out


add_mim_extension()

setup(
    name='mmagent',
    version=read_version(),
    description='Agent Attention, MLLA and FLatten backbones for OpenMMLab 2.0: '
    'MMDetection, MMSegmentation and MMPretrain',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'configs.*', 'tools')),
    package_data={'mmagent': package_files('.mim')},
    include_package_data=False,
    python_requires='>=3.8',
    install_requires=['mmengine>=0.10.0', 'mmcv>=2.0.0,<2.2.0', 'numpy', 'filelock'],
    extras_require={
        'det': ['mmdet>=3.0.0'],
        'seg': ['mmsegmentation>=1.0.0', 'ftfy', 'regex'],
        'cls': ['mmpretrain>=1.0.0'],
        'deploy': ['onnx>=1.23,<1.24', 'onnxscript>=0.7,<0.8', 'onnxruntime>=1.32,<1.33'],
        'tests':
        ['pytest', 'onnx>=1.23,<1.24', 'onnxscript>=0.7,<0.8', 'onnxruntime>=1.32,<1.33'],
    },
    license='Apache-2.0',
    zip_safe=False,
)

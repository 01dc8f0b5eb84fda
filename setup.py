import os.path as osp

from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join(osp.dirname(__file__), 'mmagent', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


setup(
    name='mmagent',
    version=read_version(),
    description='Agent Attention backbones (Agent-PVT, Agent-Swin) for OpenMMLab 2.0: '
    'MMDetection, MMSegmentation and MMPretrain',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=['mmengine>=0.10.0', 'mmcv>=2.0.0,<2.2.0', 'numpy'],
    extras_require={
        'det': ['mmdet>=3.0.0'],
        'seg': ['mmsegmentation>=1.0.0', 'ftfy', 'regex'],
        'cls': ['mmpretrain>=1.0.0'],
        'tests': ['pytest'],
    },
    license='Apache-2.0',
    zip_safe=False,
)

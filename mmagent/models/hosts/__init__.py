"""Hosts: one backbone per layout, each stage's attention from the config."""
from .cswin import CSWinHost
from .deit import DeiTHost
from .mlla import MLLAHost
from .pvt import PVTHost
from .pvtv2 import PVTv2Host
from .swin import SwinHost

__all__ = ['CSWinHost', 'DeiTHost', 'MLLAHost', 'PVTHost', 'PVTv2Host', 'SwinHost']

"""The transformer MLP of the backbones: Linear -> exact GELU -> Linear."""
import torch.nn as nn

from . import cpu_kernels

__all__ = ['Mlp']


class Mlp(nn.Module):
    """Linear -> exact GELU -> Linear, named ``fc1`` / ``fc2`` as published, with
    dropout after the activation and after ``fc2``.

    With ``cpu_kernels`` on (:mod:`mmagent.models.layers.cpu_kernels`; a backbone's
    ``cpu_kernels`` argument sets it) it runs in row chunks on the CPU; otherwise, and
    everywhere else, it is these plain modules.

    Args:
        in_features (int): Channels C.
        hidden_features (int): Hidden channels.
        drop (float): Dropout. Defaults to 0.
        cpu_kernels (bool): Defaults to True (where they apply).
    """

    def __init__(self, in_features, hidden_features, drop=0., cpu_kernels=True):
        super().__init__()
        self.use_cpu_kernels = bool(cpu_kernels)
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x, hw_shape=None):
        """``x`` (..., C); ``hw_shape`` is not needed (accepted so that blocks call every
        MLP as ``mlp(x, hw_shape)``)."""
        kernel = cpu_kernels.mlp_kernel_path(self, x)
        if kernel is not None:
            weights = (self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias)
            if kernel == 'train':
                return cpu_kernels.ChunkedMlpFunction.apply(x, *weights)
            return cpu_kernels.chunked_mlp_forward(x, *weights)[0]
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

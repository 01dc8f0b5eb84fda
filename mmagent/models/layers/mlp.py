"""The transformer MLP of the backbones: Linear -> exact GELU -> Linear."""
import torch.nn as nn

from . import cpu_kernels

__all__ = ['Mlp']


class Mlp(nn.Module):
    """Linear -> exact GELU -> Linear, named ``fc1`` / ``fc2`` as published, with
    dropout after the activation and after ``fc2``.

    With the CPU kernels switched on (:mod:`mmagent.models.layers.cpu_kernels`) it runs
    in row chunks on the CPU; otherwise, and everywhere else, it is these plain modules.
    """

    def __init__(self, in_features, hidden_features, drop=0.):
        super().__init__()
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

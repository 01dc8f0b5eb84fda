"""A hook for the distributed test: each rank writes its final weights and the images
it trained on, so the test can compare ranks."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class RankProbeHook(Hook):

    def before_train(self, runner):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for sample in data_batch['data_samples']:
            self.seen.append(osp.basename(sample.img_path))

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        torch.save(
            {
                'params': {
                    k: v.detach().clone()
                    for k, v in model.named_parameters()
                },
                'buffers': {
                    k: v.detach().clone()
                    for k, v in model.named_buffers()
                },
                'seen': self.seen,
                'wrapper': type(runner.model).__name__,
                'world_size': torch.distributed.get_world_size()
            }, osp.join(runner.work_dir, f'rank{get_rank()}.pth'))

"""A real learning check: Mask R-CNN + Agent-PVT-T from random initialisation overfits
two toy images. Calibrated: seed 0 reaches bbox mAP 0.75 / segm mAP 0.875 after 60
iterations on 2 CPU cores; the thresholds leave margin for platform differences."""
import glob
import os.path as osp

from mmagent.testing.toy_data import make_coco_instances
from tests.test_tools.conftest import config_path, read_metrics, run_tool


def test_mask_rcnn_overfits_two_images(tmp_path):
    root = str(tmp_path / 'two')
    make_coco_instances(root, num_train=2, num_val=1, seed=3)
    ann = f'{root}/annotations/instances_train.json'
    work = str(tmp_path / 'work')
    run_tool('tools/train.py', config_path('toy/maskrcnn_agent_pvt_t_toy.py'),
             '--work-dir', work, '--cfg-options',
             f'train_dataloader.dataset.data_root={root}/',
             f'val_dataloader.dataset.data_root={root}/',
             'val_dataloader.dataset.ann_file=annotations/instances_train.json',
             'val_dataloader.dataset.data_prefix.img=train/',
             f'val_evaluator.ann_file={ann}', 'train_cfg.max_epochs=60',
             'train_cfg.val_interval=60', 'param_scheduler.1.milestones=[50]',
             'param_scheduler.1.end=60', 'default_hooks.checkpoint.interval=60',
             'train_dataloader.dataset.pipeline.3.prob=0.0', 'randomness.seed=0')
    metrics = read_metrics(work)
    assert metrics['coco/bbox_mAP'] >= 0.5, metrics
    assert metrics['coco/segm_mAP'] >= 0.6, metrics


def test_demo_draws_predictions_of_a_trained_model(tmp_path, toy_coco):
    work = str(tmp_path / 'work')
    run_tool('tools/train.py', config_path('toy/maskrcnn_agent_pvt_t_toy.py'),
             '--work-dir', work, '--cfg-options',
             f'train_dataloader.dataset.data_root={toy_coco}',
             f'val_dataloader.dataset.data_root={toy_coco}',
             f'val_evaluator.ann_file={toy_coco}annotations/instances_val.json',
             'train_cfg.max_epochs=1', 'train_cfg.val_interval=10',
             'default_hooks.checkpoint.interval=1')
    ckpt = osp.join(work, 'epoch_1.pth')
    image = sorted(glob.glob(osp.join(toy_coco, 'val', '*.png')))[0]
    out = run_tool('tools/demo.py', image, config_path('toy/maskrcnn_agent_pvt_t_toy.py'),
                   '--weights', ckpt, '--out-dir', str(tmp_path / 'demo'))
    written = out.stdout.split('wrote ')[-1].strip()
    assert osp.isfile(written) and osp.getsize(written) > 1000
    import cv2
    picture = cv2.imread(written)
    assert picture.shape[:2] == cv2.imread(image).shape[:2]
    bad = run_tool('tools/demo.py', image, config_path('toy/maskrcnn_agent_pvt_t_toy.py'),
                   '--weights', 'no_such_model', check=False)
    assert bad.returncode == 1 and 'neither a file nor a zoo name' in bad.stderr

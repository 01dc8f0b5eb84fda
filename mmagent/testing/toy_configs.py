"""Config files that run any zoo config on the toy datasets (for tests).

``write_toy_config(base, kind, data_root, path, **opts)`` writes a config whose
``_base_`` is the real zoo config and which overrides only the data (toy images and
classes), the schedule length and the random initialisation, so the model, optimiser
and hooks under test are the published ones.
"""
import textwrap

DET_CLASSES = "('circle', 'square', 'triangle')"
SEG_CLASSES = "('background', 'circle', 'square', 'triangle')"


def _det_text(data_root, val_split, epochs, batch_size, extra_imports):
    return textwrap.dedent(f"""
        custom_imports = dict(
            imports=['mmagent'{extra_imports}], allow_failed_imports=False)
        _root = {data_root!r}
        _meta = dict(classes={DET_CLASSES})
        _scale = (224, 160)
        _train = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=_scale, keep_ratio=True),
            dict(type='PackDetInputs'),
        ]
        _test = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=_scale, keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                                  'img_shape', 'scale_factor')),
        ]
        train_dataloader = dict(
            batch_size={batch_size}, num_workers=0, persistent_workers=False,
            batch_sampler=None,
            dataset=dict(_delete_=True, type='CocoDataset', data_root=_root,
                         metainfo=_meta, ann_file='annotations/instances_train.json',
                         data_prefix=dict(img='train/'), pipeline=_train,
                         filter_cfg=dict(filter_empty_gt=True, min_size=4)))
        val_dataloader = dict(
            batch_size=1, num_workers=0, persistent_workers=False,
            dataset=dict(_delete_=True, type='CocoDataset', data_root=_root,
                         metainfo=_meta, test_mode=True,
                         ann_file='annotations/instances_{val_split}.json',
                         data_prefix=dict(img='{val_split}/'), pipeline=_test))
        test_dataloader = val_dataloader
        val_evaluator = dict(ann_file=_root + 'annotations/instances_{val_split}.json')
        test_evaluator = val_evaluator
        train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
        param_scheduler = []
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1, max_keep_ckpts=3))
    """)


def _seg_text(data_root, iters, batch_size, extra_imports):
    return textwrap.dedent(f"""
        custom_imports = dict(
            imports=['mmagent'{extra_imports}], allow_failed_imports=False)
        _root = {data_root!r}
        _scale = (224, 160)
        _ds = dict(type='BaseSegDataset', data_root=_root,
                   metainfo=dict(classes={SEG_CLASSES}), img_suffix='.jpg',
                   seg_map_suffix='.png', reduce_zero_label=False)
        _train = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=False),
            dict(type='Resize', scale=_scale, keep_ratio=True),
            dict(type='PackSegInputs'),
        ]
        _test = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=_scale, keep_ratio=True),
            dict(type='LoadAnnotations', reduce_zero_label=False),
            dict(type='PackSegInputs'),
        ]
        train_dataloader = dict(
            batch_size={batch_size}, num_workers=0, persistent_workers=False,
            dataset=dict(_delete_=True, **_ds, pipeline=_train,
                         data_prefix=dict(img_path='images/training',
                                          seg_map_path='annotations/training')))
        val_dataloader = dict(
            batch_size=1, num_workers=0, persistent_workers=False,
            dataset=dict(_delete_=True, **_ds, pipeline=_test,
                         data_prefix=dict(img_path='images/validation',
                                          seg_map_path='annotations/validation')))
        test_dataloader = val_dataloader
        train_cfg = dict(
            type='IterBasedTrainLoop', max_iters={iters}, val_interval={iters})
        param_scheduler = []
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(by_epoch=False, interval={iters}))
    """)


def write_toy_config(base, kind, data_root, path, epochs=1, iters=2, batch_size=2,
                     val_split='val', backbone_overrides='', extra_imports=()):
    """Write ``path``: ``base`` (a zoo config) on toy data.

    Args:
        base (str): Absolute path of the zoo config.
        kind (str): ``'det'`` (COCO instances) or ``'seg'`` (ADE-style).
        data_root (str): Toy dataset folder, ending in '/'.
        backbone_overrides (str): Extra ``key=value, ...`` for the backbone dict.

    Heads keep the base's class count: set it with ``--cfg-options`` (list indices
    work, e.g. ``model.roi_head.bbox_head.0.num_classes=3``), see :data:`TOY_OPTIONS`.
    """
    imports = ''.join(f', {m!r}' for m in extra_imports)
    if kind == 'det':
        body = _det_text(data_root, val_split, epochs, batch_size, imports)
    elif kind == 'seg':
        body = _seg_text(data_root, iters, batch_size, imports)
    else:
        raise ValueError(f'kind must be det or seg, got {kind!r}')
    text = f"_base_ = {base!r}\n" + body
    preprocessor = 'data_preprocessor=dict(size=(160, 224)), ' if kind == 'seg' else ''
    text += (f'model = dict({preprocessor}backbone=dict(init_cfg=None, '
             f'drop_path_rate=0.0, {backbone_overrides}))\n')
    with open(path, 'w') as f:
        f.write(text)
    return path


_FEW_PROPOSALS = [
    'model.train_cfg.rpn_proposal.max_per_img=100', 'model.test_cfg.rpn.max_per_img=100'
]

#: --cfg-options that point each zoo model's heads at the toy classes (and keep the
#: two-stage detectors' proposal counts toy-sized).
TOY_OPTIONS = {
    # score_thr 0: an untrained detector can score below the stock 0.05 everywhere,
    # and an empty result set gives no COCO metrics (seen once with MLLA-T).
    'maskrcnn': [
        'model.roi_head.bbox_head.num_classes=3',
        'model.roi_head.mask_head.num_classes=3', 'model.test_cfg.rcnn.score_thr=0.0'
    ] + _FEW_PROPOSALS,
    'retinanet': ['model.bbox_head.num_classes=3', 'model.test_cfg.score_thr=0.0'],
    'cascade_maskrcnn': [f'model.roi_head.bbox_head.{i}.num_classes=3'
                         for i in range(3)] +
    ['model.roi_head.mask_head.num_classes=3', 'model.test_cfg.rcnn.score_thr=0.0'] +
    _FEW_PROPOSALS,
    'upernet': ['model.decode_head.num_classes=4', 'model.auxiliary_head.num_classes=4'],
    'fpn': ['model.decode_head.num_classes=4'],
}

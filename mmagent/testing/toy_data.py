"""Small synthetic datasets in the real on-disk formats, for the quick start and tests.

* :func:`make_coco_instances`: images with a few coloured shapes (circle, square,
  triangle) and a COCO instance-segmentation annotation file (boxes and polygon masks).
* :func:`make_ade_segmentation`: the same kind of images laid out like ADE20K
  (``images/{training,validation}/*.jpg``, ``annotations/.../*.png`` label maps).
* :func:`make_folder_classification`: one shape an image, in class folders
  (``{train,val}/<class>/*.png``), the layout of mmpretrain's ``CustomDataset``.

Everything is drawn from a seeded ``numpy`` generator: the same seed writes the same
files.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('circle', 'square', 'triangle')
PALETTE = [(220, 20, 60), (0, 130, 220), (250, 170, 30)]
SEG_CLASSES = ('background', ) + CLASSES
SEG_PALETTE = [(0, 0, 0)] + PALETTE


def _shape_polygon(kind, cx, cy, r):
    if kind == 'circle':
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
    elif kind == 'square':
        pts = np.array(
            [[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]],
            dtype=np.float64)
    else:
        pts = np.array([[cx, cy - r], [cx + r, cy + r * 0.8], [cx - r, cy + r * 0.8]])
    return pts


def _draw_image(rng, height, width, max_shapes, cls=None):
    """One image: noisy background, 1..max_shapes non-overlapping shapes (all of class
    ``cls`` when given)."""
    base = rng.integers(40, 120, size=3)
    img = np.clip(base + rng.normal(0, 12, size=(height, width, 3)), 0, 255)
    img = img.astype(np.uint8)
    label = np.zeros((height, width), np.uint8)
    shapes = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        for _attempt in range(20):
            r = float(rng.uniform(0.10, 0.22) * min(height, width))
            cx = float(rng.uniform(r + 2, width - r - 2))
            cy = float(rng.uniform(r + 2, height - r - 2))
            if all((cx - c[1])**2 + (cy - c[2])**2 > (r + c[3] + 4)**2 for c in shapes):
                break
        else:
            continue
        shapes.append(
            (int(rng.integers(0, len(CLASSES))) if cls is None else cls, cx, cy, r))
    for cls, cx, cy, r in shapes:
        pts = _shape_polygon(CLASSES[cls], cx, cy, r)
        colour = np.clip(np.array(PALETTE[cls]) + rng.integers(-30, 30, 3), 0, 255)
        poly = np.round(pts).astype(np.int32)
        cv2.fillPoly(img, [poly], tuple(int(c) for c in colour[::-1]))  # BGR
        cv2.fillPoly(label, [poly], cls + 1)
    return img, label, shapes


def make_coco_instances(root, num_train=8, num_val=4, size=(160, 224), max_shapes=3,
                        seed=0):
    """Write a COCO instance dataset under ``root``.

    Layout: ``root/{train,val}/*.png`` and
    ``root/annotations/instances_{train,val}.json``.

    Returns:
        dict: paths and counts (``root``, ``train_ann``, ``val_ann``, ``num_objects``).
    """
    rng = np.random.default_rng(seed)
    height, width = size
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    info = dict(root=root, num_objects=0)
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(count):
            img, _, shapes = _draw_image(rng, height, width, max_shapes)
            name = f'{split}_{i:04d}.png'
            cv2.imwrite(osp.join(root, split, name), img)
            images.append(dict(id=i + 1, file_name=name, height=height, width=width))
            for cls, cx, cy, r in shapes:
                pts = _shape_polygon(CLASSES[cls], cx, cy, r)
                x0, y0 = pts.min(0)
                x1, y1 = pts.max(0)
                area = float(cv2.contourArea(pts.astype(np.float32)))
                anns.append(
                    dict(
                        id=len(anns) + 1, image_id=i + 1, category_id=cls + 1,
                        bbox=[float(x0),
                              float(y0),
                              float(x1 - x0),
                              float(y1 - y0)], area=area, iscrowd=0,
                        segmentation=[[round(float(v), 2) for v in pts.reshape(-1)]]))
        info['num_objects'] += len(anns)
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        with open(ann_file, 'w') as f:
            json.dump(
                dict(images=images, annotations=anns,
                     categories=[dict(id=k + 1, name=n) for k, n in enumerate(CLASSES)]),
                f)
        info[f'{split}_ann'] = ann_file
    return info


def make_ade_segmentation(root, num_train=8, num_val=4, size=(160, 224), max_shapes=3,
                          seed=0):
    """Write an ADE20K-style semantic segmentation dataset under ``root``.

    Label maps hold 0 for background and 1..3 for the shapes (no zero-label reduction).
    """
    rng = np.random.default_rng(seed)
    height, width = size
    for split, count in (('training', num_train), ('validation', num_val)):
        img_dir = osp.join(root, 'images', split)
        ann_dir = osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(count):
            img, label, _ = _draw_image(rng, height, width, max_shapes)
            cv2.imwrite(
                osp.join(img_dir, f'{split}_{i:04d}.jpg'), img,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(osp.join(ann_dir, f'{split}_{i:04d}.png'), label)
    return dict(root=root)


def make_folder_classification(root, num_train=16, num_val=8, size=(64, 64), seed=0):
    """Write an image-classification dataset in class folders under ``root``:
    ``root/{train,val}/{circle,square,triangle}/*.png``, ``num_train`` / ``num_val``
    images per class, each with one shape of its class."""
    rng = np.random.default_rng(seed)
    height, width = size
    for split, count in (('train', num_train), ('val', num_val)):
        for cls, name in enumerate(CLASSES):
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                img, _, _ = _draw_image(rng, height, width, 1, cls=cls)
                cv2.imwrite(osp.join(folder, f'{i:04d}.png'), img)
    return dict(root=root, classes=CLASSES)

"""Write a small synthetic dataset in COCO instance or ADE20K layout.

    python tools/make_toy_data.py coco data/toy_coco [--train 8 --val 4 --seed 0]
    python tools/make_toy_data.py ade data/toy_ade
    python tools/make_toy_data.py cls data/toy_cls     # class folders (CustomDataset)
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=['coco', 'ade', 'cls'])
    parser.add_argument('root', help='output folder')
    parser.add_argument('--train', type=int, default=None,
                        help='training images (per class for cls; default 8, cls 16)')
    parser.add_argument('--val', type=int, default=None,
                        help='validation images (per class for cls; default 4, cls 8)')
    parser.add_argument('--height', type=int, default=None, help='default 160, cls 64')
    parser.add_argument('--width', type=int, default=None, help='default 224, cls 64')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from mmagent.testing.toy_data import (make_ade_segmentation, make_coco_instances,
                                          make_folder_classification)
    make = dict(coco=make_coco_instances, ade=make_ade_segmentation,
                cls=make_folder_classification)[args.kind]
    defaults = (16, 8, 64, 64) if args.kind == 'cls' else (8, 4, 160, 224)
    args.train, args.val, args.height, args.width = (
        d if v is None else v
        for v, d in zip((args.train, args.val, args.height, args.width), defaults))
    info = make(args.root, num_train=args.train, num_val=args.val,
                size=(args.height, args.width), seed=args.seed)
    print(f'wrote a {args.kind} toy dataset ({args.train} train / {args.val} val images) '
          f'to {info["root"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Write a small synthetic dataset in COCO instance or ADE20K layout.

    python tools/make_toy_data.py coco data/toy_coco [--train 8 --val 4 --seed 0]
    python tools/make_toy_data.py ade data/toy_ade
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=['coco', 'ade'])
    parser.add_argument('root', help='output folder')
    parser.add_argument('--train', type=int, default=8, help='training images')
    parser.add_argument('--val', type=int, default=4, help='validation images')
    parser.add_argument('--height', type=int, default=160)
    parser.add_argument('--width', type=int, default=224)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from mmagent.testing.toy_data import make_ade_segmentation, make_coco_instances
    make = make_coco_instances if args.kind == 'coco' else make_ade_segmentation
    info = make(args.root, num_train=args.train, num_val=args.val,
                size=(args.height, args.width), seed=args.seed)
    print(f'wrote a {args.kind} toy dataset ({args.train} train / {args.val} val images) '
          f'to {info["root"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

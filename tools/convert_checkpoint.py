"""Convert a published Agent Attention checkpoint for mmdet 3 / mmseg 1 / mmpretrain.

    python tools/convert_checkpoint.py SRC DST --layout {timm,mmdet2,mmseg0}
        [--target {backbone,mmpretrain}]

Or name a zoo entry instead of --layout: --name maskrcnn_agent_pvt_t_coco_1x.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--layout', choices=['timm', 'mmdet2', 'mmseg0'])
    parser.add_argument('--name', help='zoo name: takes the layout from it')
    parser.add_argument('--target', choices=['backbone', 'mmpretrain'], default='backbone')
    args = parser.parse_args(argv)
    from mmagent import zoo
    layout = args.layout
    if args.name:
        layout = zoo.get_entry(args.name).layout
    if not layout:
        parser.error('give --layout or --name')
    if not osp.isfile(args.src):
        print(f'mmagent: no such file: {args.src}', file=sys.stderr)
        return 1
    try:
        zoo.convert_file(args.src, args.dst, layout, args.target)
    except zoo.UnsafeCheckpointError as e:
        print(f'mmagent: {e}', file=sys.stderr)
        return 1
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

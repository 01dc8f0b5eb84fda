"""Convert a published Agent Attention checkpoint for mmdet 3 / mmseg 1 / mmpretrain.

    python tools/convert_checkpoint.py SRC DST --layout {timm,mmdet2,mmseg0}
        [--target {backbone,mmpretrain}] [--family AgentSwinTransformer]

Or name a zoo entry instead of --layout and --family: --name maskrcnn_agent_pvt_t_coco_1x.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def _save(ckpt, dst):
    """torch.save to a temporary name, then rename: no half file at ``dst``."""
    import os

    import torch
    tmp = f'{dst}.{os.getpid()}.part'
    torch.save(ckpt, tmp)
    os.replace(tmp, dst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--layout', choices=['timm', 'mmdet2', 'mmseg0'])
    parser.add_argument('--name', help='zoo name: takes the layout and family from it')
    parser.add_argument(
        '--family', help='backbone type the file belongs to (e.g. '
        'AgentSwinTransformer); needed for --target mmpretrain')
    parser.add_argument('--target', choices=['backbone', 'mmpretrain'],
                        default='backbone')
    args = parser.parse_args(argv)
    from mmagent import zoo
    layout, family = args.layout, args.family
    if args.name:
        entry = zoo.get_entry(args.name)
        layout, family = entry.layout, zoo.family_of(entry)
    if not layout:
        parser.error('give --layout or --name')
    try:
        ckpt = zoo.read_checkpoint(args.src)  # weights_only=True, whatever the env says
        out = zoo.convert_checkpoint(ckpt, layout, args.target, family)
        _save(out, args.dst)
    except (zoo.CheckpointFileError, zoo.UnsafeCheckpointError, ValueError) as e:
        print(f'mmagent: {e}', file=sys.stderr)
        return 1
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

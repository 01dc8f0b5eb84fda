"""Fetch published Agent Attention weights by name, verified and converted.

    python tools/download.py --list
    python tools/download.py agent_pvt_t_in1k [--dest DIR] [--target mmpretrain]
    python tools/download.py agent_pvt_t_in1k --sha256

MMAGENT_MIRROR=https://host/path fetches <mirror>/<file name> instead of the published
URL; MMAGENT_HOME sets the cache folder (default ~/.cache/mmagent). Run it on a login
node before a distributed job to fill a shared cache; the job's ranks then only read.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('name', nargs='?', help='zoo name (see --list)')
    parser.add_argument('--list', action='store_true', help='print the zoo and exit')
    parser.add_argument('--markdown', action='store_true',
                        help='with --list: a Markdown table (the README\'s)')
    parser.add_argument('--dest', help='folder to put the file in (default: the cache)')
    parser.add_argument(
        '--target', choices=['backbone', 'mmpretrain'], default='backbone',
        help='conversion target for ImageNet '
        'weights (default: backbone init weights)')
    parser.add_argument('--sha256', action='store_true',
                        help='print the SHA-256 of the downloaded file')
    parser.add_argument('--no-convert', action='store_true',
                        help='only download and verify the published file')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    from mmagent import zoo
    if args.list:
        print(zoo.format_table(markdown=args.markdown))
        return 0
    if not args.name:
        parser.error('give a zoo NAME, or --list')
    try:
        raw = zoo.download(args.name, dest=args.dest, progress=not args.quiet)
        if args.sha256:
            print(f'{zoo.sha256_of(raw)}  {raw}')
        if not args.no_convert:
            out = zoo.fetch(args.name, dest=args.dest, target=args.target,
                            progress=not args.quiet)
            print(f'published file: {raw}\nconverted:      {out}')
        elif not args.sha256:
            print(raw)
    except (KeyError, zoo.DownloadError, zoo.UnsafeCheckpointError,
            zoo.CheckpointFileError) as e:
        print(f'mmagent: {e.args[0] if isinstance(e, KeyError) else e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

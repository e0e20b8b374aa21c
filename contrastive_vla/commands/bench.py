"""``contrastive-vla bench``: speed figures (JSON) for the policy and the simulator.

Examples::

    contrastive-vla bench --json bench.json                 # default model + ViT-B-32 + sim
    contrastive-vla bench --only model --model runs/x/best --json model_bench.json
    contrastive-vla bench --only sim
    contrastive-vla bench --only graph --json graph_bench.json   # through the ROS graph
"""

import json
from pathlib import Path

from contrastive_vla.evaluation.bench import bench_models, bench_sim, machine_info


def add_arguments(parser):
    parser.add_argument('--model', default='clip_rt_default',
                        help='checkpoint benchmarked as "default" (name in models/ or path)')
    parser.add_argument('--configs', default='ViT-B-32',
                        help='extra model configs (random weights) to time, comma-separated; '
                             '"" for none')
    parser.add_argument('--only', choices=('model', 'sim', 'graph'), default=None)
    parser.add_argument('--graph-seconds', type=float, default=30.0,
                        help='measuring time per camera size in the graph benchmark')
    parser.add_argument('--samples', type=int, default=200, help='timed decisions per model')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', dest='json_out', default=None)


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    result = {'machine': machine_info()}
    if args.only in (None, 'model'):
        configs = [c for c in args.configs.split(',') if c.strip()]
        result.update(bench_models(args.model, configs, n_cached=args.samples))
    if args.only in (None, 'sim'):
        result['sim'] = bench_sim()
    if args.only in (None, 'graph'):
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.ros.bench_graph import bench_graph

        result['graph'] = [bench_graph(args.model, w, h, duration=args.graph_seconds,
                                       reliable=reliable)
                           for w, h in ((224, 224), (640, 480)) for reliable in (False, True)]
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0

"""``contrastive-vla bench``: speed figures (JSON) for the policy and the simulator.

Examples::

    contrastive-vla bench --json bench.json                 # default model + ViT-B-32 + sim
    contrastive-vla bench --only model --model runs/x/best --json model_bench.json
    contrastive-vla bench --only model --device cuda --configs ViT-B-32,ViT-H-14-378-quickgelu
    contrastive-vla bench --only sim
    contrastive-vla bench --only graph --json graph_bench.json   # through the ROS graph
    contrastive-vla bench --only graph --graph 224x224:best_effort --graph-seconds 5
    contrastive-vla bench --only fuzz --json fuzz_bench.json    # hostile messages, live graph
    contrastive-vla bench --only train --train-data data/fast --json train_bench.json

``--only train`` (never part of the default run: it needs bags) times the training step of
``--recipe``'s model on ``--train-data`` for each of ``--train-settings``
(:mod:`contrastive_vla.training.throughput`) and prints ``{"train": {"recipe", "config",
"samples", "instructions", "settings": [{"setting", "samples_per_s", "warmup_s",
"variants_encoded", "variants_encoded_s", "remembered_sentences"}, ...]}}``.

``--only graph`` prints ``{"machine": ..., "load_avg": [1, 5, 15 min], "graph_offline":
{"WxH": {"p50_ms", "p99_ms", ...}}, "graph": [{"image", "transport", "command_latency_ms":
{"p50", "p99"}, "decision_ms": {"p50", "p99"}, "offline_decision_ms", "decision_vs_offline_p50",
"decision_vs_offline_idle_p50", "dropped_frames", "transport_lost_frames", ...}, ...]}``: the
offline model bench (evaluation.bench, same model, same machine, same run, a frame of the same
size; back to back, and 0.3 s apart as the graph decides) beside each graph run's in-node
decision time. ``command_latency_ms``: the camera stamp -> the bridge sent
the arm command (its planning included).

``--only fuzz`` (never part of the default run) starts the ``sim`` graph with ``--model`` and
sends ``--fuzz-messages`` hostile messages over ``--fuzz-seconds`` with e-stops interleaved
(:mod:`contrastive_vla.ros.fuzz_campaign`); it prints ``{"fuzz": {"messages", "sent" (per
topic), "crashes", "dead_nodes", "commands", "limit_violations", "violations", "stop_windows",
"ignored_stops", "seconds", ...}}``.
"""

import json
import os
from pathlib import Path

from contrastive_vla.evaluation.bench import bench_models, bench_sim, machine_info

# camera size and frame transport per graph run. 224x224: the VLA node's default (best
# effort). 640x480 needs more than best effort between processes (it lost 60% of the frames
# here, with or without Fast DDS's LARGE_DATA transport); RELIABLE lost none and was faster
# than reliable over LARGE_DATA (p50 33 vs 40 ms camera -> command, 2 cores, 2026-12)
DEFAULT_GRAPH_RUNS = '224x224:best_effort,640x480:reliable'


def add_arguments(parser):
    parser.add_argument('--model', default='clip_rt_default',
                        help='checkpoint benchmarked as "default" (name in models/ or path)')
    parser.add_argument('--configs', default='ViT-B-32',
                        help='extra model configs (random weights) to time, comma-separated; '
                             '"" for none')
    parser.add_argument('--only', choices=('model', 'sim', 'graph', 'fuzz', 'train'),
                        default=None)
    parser.add_argument('--graph-seconds', type=float, default=30.0,
                        help='measuring time per camera size in the graph benchmark')
    parser.add_argument('--graph', default=DEFAULT_GRAPH_RUNS,
                        help='graph runs, comma-separated WIDTHxHEIGHT:TRANSPORT (transport: '
                             'best_effort, reliable or large_data)')
    parser.add_argument('--vla-threads', type=int, default=1,
                        help="the graph's VLA node torch threads (0 = torch's default)")
    parser.add_argument('--fuzz-messages', type=int, default=10_000,
                        help='hostile messages of the fuzz campaign (--only fuzz)')
    parser.add_argument('--fuzz-seconds', type=float, default=60.0,
                        help='how long the fuzz campaign sends them')
    parser.add_argument('--fuzz-seed', type=int, default=0, help='seed of the fuzz campaign')
    parser.add_argument('--train-data', nargs='+', default=None, metavar='DIR',
                        help='bags whose training step --only train times')
    parser.add_argument('--recipe', default='fast',
                        help='the training recipe --only train times (its model and settings)')
    parser.add_argument('--train-settings', default=None,
                        help='comma-separated PRECISION[:VARIANTS][:compile] (default: '
                             'float32 compiled and eager, bfloat16, each with fresh '
                             'rewordings and with 32 per instruction)')
    parser.add_argument('--train-steps', type=int, default=100,
                        help='timed training steps per setting')
    parser.add_argument('--train-warmup', type=int, default=30,
                        help='untimed training steps before them')
    parser.add_argument('--samples', type=int, default=200, help='timed decisions per model')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', default='cpu',
                        help="torch device of the model bench and of the graph's VLA node "
                             "('cpu', 'cuda', 'cuda:1')")
    parser.add_argument('--json', dest='json_out', default=None)


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.model.policy import check_device

    device = args.device
    check_device(device)  # ValueError: the CLI's one-line error, before anything is timed
    result = {'machine': machine_info()}
    if args.only == 'train':
        if not args.train_data:
            raise SystemExit('--only train needs --train-data DIR (bags, e.g. from collect)')
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.training.throughput import DEFAULT_SETTINGS, step_rates

        result['load_avg'] = [round(v, 2) for v in os.getloadavg()]
        result['train'] = step_rates(args.train_data, args.recipe,
                                     args.train_settings or DEFAULT_SETTINGS,
                                     steps=args.train_steps, warmup=args.train_warmup)
    if args.only == 'fuzz':
        if args.fuzz_messages < 1 or not args.fuzz_seconds > 0:
            raise SystemExit('--fuzz-messages and --fuzz-seconds must be positive')
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.ros.fuzz_campaign import bench_fuzz

        result['load_avg'] = [round(v, 2) for v in os.getloadavg()]
        result['fuzz'] = bench_fuzz(args.model, args.fuzz_messages, args.fuzz_seconds,
                                    seed=args.fuzz_seed)
    if args.only in (None, 'model'):
        configs = [c for c in args.configs.split(',') if c.strip()]
        result.update(bench_models(args.model, configs, n_cached=args.samples, device=device))
    if args.only in (None, 'sim'):
        result['sim'] = bench_sim()
    if args.only in (None, 'graph'):
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.ros.bench_graph import bench_graph

        runs = _graph_runs(args.graph)
        result['load_avg'] = [round(v, 2) for v in os.getloadavg()]
        # the offline figure of the same model on the same machine in the same run: this
        # machine's numbers drift by 1.5x between runs
        if not args.threads and args.vla_threads:
            torch.set_num_threads(args.vla_threads)  # offline as the graph's VLA node runs
        # per camera size: the offline decision starts from the same frame as the node's
        result['graph_offline'] = {}
        for width, height in dict.fromkeys((w, h) for w, h, _ in runs):  # once per size
            offline = bench_models(args.model, [], n_cached=args.samples,
                                   image_shape=(height, width), device=device,
                                   n_idle=max(5, args.samples // 10))['default']
            result['graph_offline'][f'{width}x{height}'] = {
                **offline, 'torch_threads': torch.get_num_threads()}
        result['graph'] = []
        for width, height, transport in runs:
            run = bench_graph(args.model, width, height, duration=args.graph_seconds,
                              transport=transport, threads=args.vla_threads, device=device)
            offline = result['graph_offline'][run['image']]
            p50 = run['decision_ms']['p50']
            run['offline_decision_ms'] = {'p50': offline['p50_ms'], 'p99': offline['p99_ms'],
                                          'idle_p50': offline['idle_p50_ms'],
                                          'idle_p99': offline['idle_p99_ms']}
            run['decision_vs_offline_p50'] = (round(p50 / offline['p50_ms'], 2)
                                              if p50 is not None else None)
            # against offline decisions with the graph's pauses between them
            run['decision_vs_offline_idle_p50'] = (round(p50 / offline['idle_p50_ms'], 2)
                                                   if p50 is not None else None)
            result['graph'].append(run)
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0


def _graph_runs(text):
    runs = []
    for item in (i.strip() for i in text.split(',') if i.strip()):
        size, _, transport = item.partition(':')
        try:
            width, height = (int(v) for v in size.lower().split('x'))
        except ValueError:
            raise SystemExit(f'--graph: {item!r} is not WIDTHxHEIGHT:TRANSPORT') from None
        runs.append((width, height, transport or 'best_effort'))
    return runs

"""``contrastive-vla eval-bag``: score a model on recorded bags (offline replay evaluation).

Examples::

    contrastive-vla eval-bag data/demos --model runs/default/best --json out.json --report rep/
    contrastive-vla eval-bag my_bag --model clip_rt_default --image-topic /camera/color/image_raw
    contrastive-vla eval-bag data/demos --model M --episodes-file runs/default/val_episodes.txt
"""

import json
from pathlib import Path

from contrastive_vla.data.dataset import TopicMap


def add_arguments(parser):
    parser.add_argument('bags', nargs='+', help='bag directories, or directories holding bags')
    parser.add_argument('--model', default='clip_rt_default',
                        help='trained model directory or name in models/')
    parser.add_argument('--json', dest='json_out', default=None, help='write the results here')
    parser.add_argument('--report', default=None,
                        help='directory for the report (confusion.png, tables)')
    parser.add_argument('--episodes-file', default=None,
                        help='score only the bags named in this file (one per line), e.g. the '
                             'held-out episodes a training run lists in val_episodes.txt')
    for key in ('image', 'instruction', 'primitive', 'joint_states'):
        parser.add_argument(f'--{key.replace("_", "-")}-topic', default=None,
                            help=f'{key} topic name in the bags (default: ours)')
    parser.add_argument('--live', action='store_true',
                        help='play the bags through the running ROS graph (player -> listener '
                             '-> VLA node) and score what the deployed node published')
    parser.add_argument('--rate', type=float, default=1.0, help='--live playback speed')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.evaluation.bag_eval import evaluate_bags, format_report, plot_confusion
    from contrastive_vla.model.policy import ClipRTPolicy

    if args.threads:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        import torch
        torch.set_num_threads(args.threads)
    topics = TopicMap(image=args.image_topic, instruction=args.instruction_topic,
                      primitive=args.primitive_topic, joint_states=args.joint_states_topic)
    only = None
    if args.episodes_file:
        only = [ln.strip() for ln in Path(args.episodes_file).read_text().splitlines()
                if ln.strip()]
    if args.live:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.ros.live_replay import live_replay

        if only is not None:
            raise ValueError('--episodes-file is not supported with --live; pass the bags')
        result = live_replay(args.bags, args.model, rate=args.rate, topics=topics)
        result['model'] = str(args.model)
        print(f'live replay: accuracy {result["accuracy"]:.3f} (top-3 '
              f'{result["top3_accuracy"]:.3f}, direction {result["direction_accuracy"]:.3f}) '
              f'over {result["steps"]} steps; {result["missed_steps"]} step(s) never decided; '
              f'decision latency p50 {result["latency_ms"]["p50"]:.1f} ms')
        if args.json_out:
            Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json_out).write_text(json.dumps(result, indent=2))
        return 0
    policy = ClipRTPolicy.load(args.model)
    result = evaluate_bags(args.bags, policy, topics, progress=not args.no_progress, only=only)
    confusion = result.pop('confusion')
    result['model'] = str(args.model)
    print(format_report(result))
    if args.report:
        report = Path(args.report)
        report.mkdir(parents=True, exist_ok=True)
        plot_confusion(confusion, policy.vocab, report / 'confusion.png')
        (report / 'per_episode.json').write_text(json.dumps(result['per_episode'], indent=2))
        (report / 'per_instruction.json').write_text(json.dumps(result['per_instruction'],
                                                                indent=2))
        print(f'report: {report}/confusion.png, per_episode.json, per_instruction.json')
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return 0

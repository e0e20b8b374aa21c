"""``contrastive-vla eval-sim``: closed-loop success of a policy in the simulator.

Examples::

    contrastive-vla eval-sim --policy expert --tasks all --episodes 50 --json expert.json
    contrastive-vla eval-sim --policy models/clip_rt_default --episodes 50 --workers 2
    contrastive-vla eval-sim --policy random --tasks reach_block,lift_block --episodes 20
    contrastive-vla eval-sim --policy expert --episodes 2 --video videos/
    contrastive-vla eval-sim --policy M --instructions config/paraphrased_instructions.yaml
    contrastive-vla eval-sim --policy M --tasks place_in_zone,stack_blocks --probe
    contrastive-vla eval-sim --policy M --tasks stack_blocks --episodes 50 --trace --json t.json
    contrastive-vla eval-sim --policy M --episodes 50 --stuck stop
    contrastive-vla eval-sim --policy M --tasks reach_block --instruction "reach the blue block"
    contrastive-vla eval-sim --policy A --policy B --instructions templates \
        --instructions config/instructions_unseen.yaml --episodes 50 --seed 10000 \
        --markdown table.md --json runs.json
"""

import json
from pathlib import Path

from contrastive_vla.commands.common import check_episodes_and_seed, instruction_wordings
from contrastive_vla.evaluation.sim_eval import (
    LOOP_MODES,
    STUCK_MODES,
    evaluate_in_sim,
    format_comparison,
    format_stuck,
    format_table,
)
from contrastive_vla.sim.tasks import load_tasks, resolve_task_ids


def add_arguments(parser):
    parser.add_argument('--policy', action='append', default=None,
                        help='"expert", "random", or a trained model directory/checkpoint '
                             '(default: expert); repeat it to compare policies on the same '
                             'episodes')
    parser.add_argument('--tasks', default='all', help='"all" or comma-separated task ids')
    parser.add_argument('--episodes', type=int, default=10, help='episodes per task')
    parser.add_argument('--seed', type=int, default=0,
                        help='first episode seed (episode i uses seed + i)')
    parser.add_argument('--json', dest='json_out', default=None, help='write the summary here')
    parser.add_argument('--video', default=None, help='directory for episode videos (mp4)')
    parser.add_argument('--video-episodes', type=int, default=1,
                        help='episodes per task to film when --video is given')
    parser.add_argument('--instructions', action='append', default=None,
                        help='YAML task id -> list of instruction templates to use instead of '
                             'the task templates (same {block}/{zone}/{base} placeholders), or '
                             '"templates" for the task templates; repeat it to compare wordings')
    parser.add_argument('--markdown', default=None,
                        help='write a table of every policy and wording per task here '
                             '(Markdown)')
    parser.add_argument('--instruction', default=None,
                        help='say exactly this in every episode (no placeholders: the scene '
                             'may hold no such block; success is still judged on the '
                             "task's own target)")
    parser.add_argument('--probe', action='store_true',
                        help='also measure whether a trained model reads the instruction: '
                             'how often its decision changes when the block, zone or base '
                             'colour is renamed, and how often it agrees with the expert, '
                             'while fetching and while carrying (slower: one extra scoring '
                             'per referent and step)')
    parser.add_argument('--trace', action='store_true',
                        help='also note, at every decision, what the scripted expert would do '
                             "and the gripper's state (open, holding the block, closed on "
                             'nothing); prints how the failed episodes ended and adds each '
                             "episode's trace to --json")
    parser.add_argument('--stuck', choices=STUCK_MODES, default='observe',
                        help="the VLA node's stuck detector on every episode: observe (note "
                             'when it fires, run on, report the success rate had it stopped '
                             'there), stop (end the episode, as the node stops deciding) or '
                             'off (default: %(default)s)')
    parser.add_argument('--loops', choices=LOOP_MODES, default='on',
                        help="the VLA node's loop breaker on a model's decisions, as the node "
                             'runs it by default: on (a primitive already executed from the '
                             'same arm state is passed over for the next best) or off (the '
                             "policy's own choices) (default: %(default)s)")
    parser.add_argument('--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    check_episodes_and_seed(args.episodes, args.seed, '--episodes')
    policies = args.policy or ['expert']
    scripted = [p for p in policies if p in ('expert', 'random')]
    if args.probe and scripted:
        raise ValueError(f'--probe needs a trained model; the {scripted[0]} policy does not '
                         'read the instruction')
    tasks = load_tasks()
    task_ids = resolve_task_ids(args.tasks, tasks)
    if args.instructions and args.instruction is not None:
        raise ValueError('give --instructions or --instruction, not both')
    # (what the summary records, the table's column name, task id -> templates or None)
    wordings = instruction_wordings(args.instructions, tasks)
    if args.instruction is not None:
        if not args.instruction.strip():
            raise ValueError('--instruction must not be empty')
        # literal text: braces would be read as placeholders by the templates' format()
        text = args.instruction.replace('{', '{{').replace('}', '}}')
        said = repr(args.instruction)
        wordings = [(said, said, {task_id: [text] for task_id in task_ids})]
    runs = []
    for policy in policies:
        for source, column, instructions in wordings:
            if len(policies) * len(wordings) > 1:
                print(f'\n{policy}, {source}:')
            summary = _evaluate(args, policy, task_ids, instructions)
            summary['instructions'] = source
            runs.append((f'{policy}, {column}', summary))
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(format_comparison(runs) + '\n')
        print(f'wrote {args.markdown}')
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        body = runs[0][1] if len(runs) == 1 else [s for _, s in runs]
        Path(args.json_out).write_text(json.dumps(body, indent=2))
        print(f'wrote {args.json_out}')
    return 0


def _evaluate(args, policy, task_ids, instructions):
    """One policy on one wording: prints its table and returns its summary."""
    summary = evaluate_in_sim(policy, task_ids, args.episodes, seed=args.seed,
                              instructions=instructions, workers=args.workers,
                              video_dir=args.video, video_episodes=args.video_episodes,
                              progress=not args.no_progress, probe=args.probe,
                              stuck=args.stuck, trace=args.trace, loops=args.loops)
    print(format_table(summary))
    if args.probe:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.evaluation.language_probe import format_probe

        print(format_probe(summary['language_probe']))
    if args.trace:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.evaluation.episode_trace import format_traces

        print(format_traces(summary['failure_trace']))
    if 'stuck' in summary:
        print(format_stuck(summary['stuck']))
    if 'loops' in summary:
        loops = summary['loops']
        print(f'loop breaker: changed {loops["decisions_changed"]} decisions in '
              f'{loops["episodes_changed"]} of {loops["episodes"]} episodes')
    print(f'decision latency p50 {summary["decision_ms"]["p50"]:.2f} ms, '
          f'p99 {summary["decision_ms"]["p99"]:.2f} ms; {summary["wall_s"]:.1f} s')
    return summary

#!/usr/bin/env python3
"""Write config/primitives.yaml: the CLIP-RT 58-primitive vocabulary with paraphrases.

The YAML file is the source of truth that the package loads; this script is the tool that wrote
it, kept so the wording can be regenerated or extended consistently. Run from the repository
root: ``python scripts/make_vocabulary.py > config/primitives.yaml``.

The step a vague paraphrase ("a smidge", "slightly", "a lot") stands for is the one the sentence
parser reads it as, from config/amounts.yaml, so the paraphrases and teleop mean the same.
"""

import math

from contrastive_vla.core.language import parse_amount

# The magnitudes of each ladder, smallest first, and their numeric phrasings.
TRANSLATION = {
    0.01: ['one centimeter', '1 cm', 'one centimetre', '10 millimeters', '0.01 m',
           '1 centimeter'],
    0.05: ['five centimeters', '5 cm', 'five centimetres', '50 mm', '0.05 meters',
           '5 centimeters'],
    0.10: ['ten centimeters', '10 cm', 'ten centimetres', '100 mm', '0.1 m',
           '10 centimeters'],
    0.20: ['twenty centimeters', '20 cm', 'twenty centimetres', '200 mm', '0.2 meters',
           '20 centimeters'],
}
ROTATION = {
    5: ['five degrees', '5 degrees', '5°', '5 deg', 'five deg'],
    15: ['fifteen degrees', '15 degrees', '15°', '15 deg', 'fifteen deg'],
    45: ['forty-five degrees', '45 degrees', '45°', '45 deg', 'forty five degrees'],
    90: ['ninety degrees', '90 degrees', '90°', '90 deg', 'ninety deg'],
}
# The wording the vague paraphrases use, in order. Which step each phrase means is not
# decided here: the parser reads it (config/amounts.yaml for the vague words, a number with
# a unit for the rest), so the paraphrases cannot drift from what teleop understands.
VAGUE_TRANSLATION = ['a tiny bit', 'just a hair', 'a smidge', 'a little', 'a bit', 'slightly',
                     'a fair amount', 'a decent amount', 'one decimeter',
                     'a lot', 'a long way', 'much further']
VAGUE_ROTATION = ['a tiny bit', 'just a touch', 'very slightly', 'a little', 'a bit',
                  'slightly', 'an eighth of a turn', 'a good amount', 'a fair amount',
                  'a quarter turn', 'a right angle', 'a lot']


def _by_step(phrases, magnitudes, rotation):
    """{magnitude: [phrase, ...]}: each phrase under the step the parser reads it as."""
    steps = sorted(magnitudes)
    values = [math.radians(m) if rotation else m for m in steps]
    grouped = {m: [] for m in steps}
    for phrase in phrases:
        kind, value, rung = parse_amount(phrase)
        if rung is not None:
            step = steps[min(rung, len(steps) - 1)]
        elif kind == ('angle' if rotation else 'length'):
            i = min(range(len(values)), key=lambda k: abs(values[k] - value))
            if not math.isclose(values[i], value, rel_tol=1e-9):
                raise SystemExit(f'{phrase!r} is {value}, not a step of the vocabulary')
            step = steps[i]
        else:
            raise SystemExit(f'{phrase!r} is no amount config/amounts.yaml or the parser knows')
        grouped[step].append(phrase)
    missing = [m for m, said in grouped.items() if not said]
    if missing:
        raise SystemExit(f'no vague phrase for the steps {missing}')
    return grouped


# axis, sign, short name, canonical template, numeric templates, vague templates
MOTIONS = [
    ('x', 1, 'forward', 'move the arm forward by {m}',
     ['move forward {m}', 'go forward by {m}', 'move the gripper away from the base by {m}',
      'push the end effector forward {m}', 'advance {m}', '{m} forward'],
     ['move forward {v}', 'reach forward {v}', 'extend the arm {v}']),
    ('x', -1, 'backward', 'move the arm backward by {m}',
     ['move backward {m}', 'go back by {m}', 'move the gripper toward the base by {m}',
      'pull the end effector back {m}', 'retreat {m}', '{m} backward'],
     ['move back {v}', 'pull back {v}', 'retract the arm {v}']),
    ('y', 1, 'left', 'move the arm to the left by {m}',
     ['move left {m}', 'go left by {m}', 'shift the gripper to the left by {m}',
      'slide the end effector left {m}', 'move {m} to the left', '{m} left'],
     ['move left {v}', 'shift left {v}', 'go further left {v}']),
    ('y', -1, 'right', 'move the arm to the right by {m}',
     ['move right {m}', 'go right by {m}', 'shift the gripper to the right by {m}',
      'slide the end effector right {m}', 'move {m} to the right', '{m} right'],
     ['move right {v}', 'shift right {v}', 'go further right {v}']),
    ('z', 1, 'up', 'move the arm up by {m}',
     ['move up {m}', 'go up by {m}', 'raise the gripper by {m}', 'lift the end effector {m}',
      'move {m} upward', '{m} up'],
     ['move up {v}', 'raise the arm {v}', 'lift up {v}']),
    ('z', -1, 'down', 'move the arm down by {m}',
     ['move down {m}', 'go down by {m}', 'lower the gripper by {m}',
      'drop the end effector {m}', 'move {m} downward', '{m} down'],
     ['move down {v}', 'lower the arm {v}', 'descend {v}']),
    ('roll', 1, 'roll_right', 'roll the gripper to the right by {m}',
     ['roll right {m}', 'roll the end effector right by {m}', 'tilt the gripper right {m}',
      'bank the hand to the right by {m}', 'roll {m} to the right', 'roll clockwise {m}'],
     ['roll right {v}', 'tilt the gripper to the right {v}', 'bank right {v}']),
    ('roll', -1, 'roll_left', 'roll the gripper to the left by {m}',
     ['roll left {m}', 'roll the end effector left by {m}', 'tilt the gripper left {m}',
      'bank the hand to the left by {m}', 'roll {m} to the left', 'roll counterclockwise {m}'],
     ['roll left {v}', 'tilt the gripper to the left {v}', 'bank left {v}']),
    ('pitch', 1, 'pitch_down', 'pitch the gripper down by {m}',
     ['pitch down {m}', 'tip the end effector down by {m}', 'point the gripper lower by {m}',
      'nose the hand down {m}', 'pitch {m} downward', 'angle the gripper down {m}'],
     ['pitch down {v}', 'tip the gripper down {v}', 'angle downward {v}']),
    ('pitch', -1, 'pitch_up', 'pitch the gripper up by {m}',
     ['pitch up {m}', 'tip the end effector up by {m}', 'point the gripper higher by {m}',
      'nose the hand up {m}', 'pitch {m} upward', 'angle the gripper up {m}'],
     ['pitch up {v}', 'tip the gripper up {v}', 'angle upward {v}']),
    ('yaw', 1, 'yaw_left', 'yaw the gripper to the left by {m}',
     ['yaw left {m}', 'turn the end effector left by {m}', 'swivel the gripper left {m}',
      'turn the hand to the left by {m}', 'yaw {m} to the left', 'pan the gripper left {m}'],
     ['yaw left {v}', 'turn the gripper left {v}', 'swivel left {v}']),
    ('yaw', -1, 'yaw_right', 'yaw the gripper to the right by {m}',
     ['yaw right {m}', 'turn the end effector right by {m}', 'swivel the gripper right {m}',
      'turn the hand to the right by {m}', 'yaw {m} to the right', 'pan the gripper right {m}'],
     ['yaw right {v}', 'turn the gripper right {v}', 'swivel right {v}']),
    ('wrist_rotate', 1, 'wrist_cw', 'rotate the wrist clockwise by {m}',
     ['rotate the wrist clockwise {m}', 'twist the wrist clockwise by {m}',
      'turn the wrist clockwise {m}', 'spin the gripper clockwise by {m}',
      'rotate the hand {m} clockwise', 'wrist clockwise {m}'],
     ['twist the wrist clockwise {v}', 'turn the wrist clockwise {v}',
      'spin the gripper clockwise {v}']),
    ('wrist_rotate', -1, 'wrist_ccw', 'rotate the wrist counterclockwise by {m}',
     ['rotate the wrist counterclockwise {m}', 'twist the wrist counterclockwise by {m}',
      'turn the wrist anticlockwise {m}', 'spin the gripper counterclockwise by {m}',
      'rotate the hand {m} anticlockwise', 'wrist counterclockwise {m}'],
     ['twist the wrist counterclockwise {v}', 'turn the wrist anticlockwise {v}',
      'spin the gripper anticlockwise {v}']),
]
AXES = ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'wrist_rotate']
GRIPPER = [
    ('open_gripper', 1.0, 'open the gripper',
     ['open the hand', 'open your fingers', 'release', 'let go', 'release the object',
      'open the claw', 'spread the fingers', 'open the gripper fully', 'drop it',
      'ungrasp', 'open up the gripper', 'let it go']),
    ('close_gripper', -1.0, 'close the gripper',
     ['close the hand', 'close your fingers', 'grasp', 'grab it', 'grip the object',
      'close the claw', 'pinch', 'close the gripper fully', 'pick it up with the fingers',
      'clamp down', 'shut the gripper', 'hold it tight']),
]


def _quote(text):
    return "'" + text.replace("'", "''") + "'"


def main():
    out = [
        '# The motion-primitive vocabulary: the action space of the CLIP-RT policy.',
        '# Written by scripts/make_vocabulary.py; this file is the source of truth at run time.',
        '#',
        '# delta = [dx, dy, dz, roll, pitch, yaw, wrist_rotate, gripper]',
        "#   metres and radians; x away from the robot base, y to the robot's left, z up;",
        '#   roll/pitch/yaw rotate the gripper about the base x/y/z axes (right-hand rule) around',
        '#   the tool centre point; wrist_rotate turns the last joint (positive = clockwise seen',
        '#   from behind the gripper); gripper is a command: +1 open, -1 close, 0 unchanged.',
        'format_version: 1',
        '# CLIP-RT weighs translations by this factor against rotations when picking the',
        '# dominant axis of a continuous action (0.1 m weighs like 0.785 rad).',
        'translation_weight: 7.854',
        'primitives:',
    ]
    for axis, sign, short, canonical, numeric, vague in MOTIONS:
        rotation = axis not in ('x', 'y', 'z')
        table = ROTATION if rotation else TRANSLATION
        words = _by_step(VAGUE_ROTATION if rotation else VAGUE_TRANSLATION, table, rotation)
        for magnitude, numbers in table.items():
            vagues = words[magnitude]
            value = math.radians(magnitude) if rotation else magnitude
            unit = f'{magnitude}deg' if rotation else f'{round(magnitude * 100)}cm'
            delta = [0.0] * 8
            delta[AXES.index(axis)] = sign * value
            phrase = canonical.format(m=numbers[0])
            paraphrases = []
            for i, template in enumerate(numeric):
                paraphrases.append(template.format(m=numbers[(i + 1) % len(numbers)]))
            for i, template in enumerate(vague):
                paraphrases.append(template.format(v=vagues[i % len(vagues)]))
            paraphrases.append(canonical.format(m=numbers[1]))
            paraphrases.append(numeric[0].format(m=numbers[2]))
            paraphrases = [p for p in dict.fromkeys(paraphrases) if p != phrase]
            out += [f'  - name: {short}_{unit}', f'    axis: {axis}',
                    f'    phrase: {_quote(phrase)}',
                    '    delta: [' + ', '.join(repr(v) for v in delta) + ']',
                    '    paraphrases:']
            out += [f'      - {_quote(p)}' for p in paraphrases]
    for name, value, phrase, paraphrases in GRIPPER:
        delta = [0.0] * 7 + [value]
        out += [f'  - name: {name}', '    axis: gripper', f'    phrase: {_quote(phrase)}',
                '    delta: [' + ', '.join(repr(v) for v in delta) + ']', '    paraphrases:']
        out += [f'      - {_quote(p)}' for p in paraphrases]
    print('\n'.join(out))


if __name__ == '__main__':
    main()

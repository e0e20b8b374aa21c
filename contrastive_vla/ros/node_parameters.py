"""Every parameter of the graph's nodes, declared once (see ``ros.params``).

The nodes declare these (``params.declare(self, NODES['camera'], on_change=...)``); only a
parameter marked ``dynamic`` may be set while the node runs (``ros2 param set``), and only where
the node honours the change; safety switches (``enable_actuation``, ``stop_words``) never are.
``config/nodes.yaml``, the README tables, ``contrastive-vla params`` and the launch argument
defaults are made from them.
After a change here run ``contrastive-vla params --yaml > config/nodes.yaml`` and paste
``contrastive-vla params --markdown`` into the README (tests say when either is out of date).
"""

from contrastive_vla.control.instruction import DEFAULT_RELEASE_WORDS, DEFAULT_STOP_WORDS
from contrastive_vla.control.stuck import StuckLimits
from contrastive_vla.ros.params import Param

BRIDGE_MODES = ('joint_trajectory', 'servo')
_STUCK = StuckLimits()  # the stuck detector's defaults (control.stuck), also eval-sim's
# the VLA node's and the bridge's: who may release the stops relayed on estop_state and
# listener_stop (qos.EstopInput)
LISTENER_NODE = Param('listener_node', 'instruction_listener',
                      "the instruction listener ('instruction_listener': in this node's "
                      "namespace; '/ns/name': absolute): only its releases (False) on "
                      'estop_state and listener_stop count; anyone may raise them')

CAMERA = (
    Param('source', '', "V4L2 index ('0') or device path (/dev/video0), a video file, or a "
                        'directory of images'),
    Param('rate', 30.0, 'frames per second to publish (Hz)', range=(0.0, None), open_low=True,
          dynamic=True),
    Param('loop', True, 'video file / image directory: start again at the end (else stop '
                        'publishing)'),
    Param('width', 0, 'resize frames to this width in pixels (0 = keep)', range=(0, None)),
    Param('height', 0, 'resize frames to this height in pixels (0 = keep)', range=(0, None)),
    Param('crop', [0, 0, 0, 0], 'crop [x, y, width, height] in pixels before resizing '
                                '([0, 0, 0, 0] = none)'),
    Param('frame_id', 'camera_optical_frame', 'frame_id of the published images'),
    Param('horizontal_fov_deg', 60.0, 'horizontal field of view used for camera_info '
                                      '(uncalibrated camera)', range=(1.0, 179.0)),
    Param('reconnect_period', 1.0, 'seconds between attempts to reopen a lost camera',
          range=(0.0, None), dynamic=True),
)

INSTRUCTION_LISTENER = (
    Param('stop_words', list(DEFAULT_STOP_WORDS),
          'words or phrases; one anywhere in a clause of at most 6 words, or among the first 3 '
          'words of a longer one, halts the arm at once, before any other check (casefolded; '
          'punctuation, hyphens and control characters ignored)', min_items=1),
    Param('release_words', list(DEFAULT_RELEASE_WORDS),
          'words or phrases; a sentence of at most 4 words with one (and no negation) releases '
          'the stop this node raised'),
    Param('max_length', 300, 'longest accepted task instruction, in characters (a stop is '
                             'recognised at any length)', range=(10, None), dynamic=True),
    Param('stop_released_by_new_instruction', True, 'a valid task instruction (one with a task '
                                                    'word) after a stop releases the stop this '
                                                    'node raised', dynamic=True),
)

VLA = (
    Param('model', 'clip_rt_default', 'trained model directory, or the name of one in the '
                                      'package models/ folder'),
    Param('device', 'cpu', "torch device ('cpu', 'cuda', 'cuda:1')"),
    Param('threads', 0, "torch CPU threads (0 = torch's default)", range=(0, None)),
    Param('max_image_age', 0.5, 'seconds; a newer-than-this frame is required to decide (older '
                                'ones are dropped)', range=(0.0, None), open_low=True,
          dynamic=True),
    Param('max_future_stamp', 0.05, "seconds; a frame stamped further ahead of this node's "
                                    'clock is dropped (counted as future_frames), never '
                                    'decided on', range=(0.0, 10.0), dynamic=True),
    Param('done_timeout', 10.0, 'seconds to wait for the bridge to report a primitive done '
                                'before deciding again', range=(0.0, None), open_low=True,
          dynamic=True),
    Param('tick_period', 0.02, 'seconds between fallback checks whether a decision is due '
                               '(a frame, a joint state or an outcome triggers a decision at '
                               'once; this timer only ends the joint-state wait and the '
                               'done_timeout, and counts stale frames)',
          range=(0.0, None), open_low=True),
    Param('top_k', 5, 'how many ranked primitives primitive_topk carries', range=(1, None),
          dynamic=True),
    Param('use_joint_states', True, 'feed joint positions to models trained with '
                                    'proprioception'),
    Param('joint_state_tolerance', 0.02, 'seconds; a joint state stamped at most this long '
                                         'before the frame counts as the robot state the frame '
                                         'shows', range=(0.0, None), dynamic=True),
    Param('joint_state_wait', 0.2, 'seconds (wall time) to wait for such a joint state once a '
                                   'frame could be decided on; then decide with the newest one '
                                   '(counted as stale)', range=(0.0, None), dynamic=True),
    Param('min_confidence', 0.0, 'do not act when the best primitive has a lower softmax '
                                 'probability', range=(0.0, 1.0), dynamic=True),
    Param('reliable_images', False, 'subscribe to image_raw reliably (depth 1) instead of best '
                                    'effort: large frames (640x480) survive the transport; the '
                                    'publisher must be reliable too'),
    Param('wait_for_outcome', True, 'wait for the bridge to report each primitive before '
                                    'deciding again (false for bag replay, where no arm '
                                    'answers: decide on every new frame)'),
    Param('status_period', 0.5, 'seconds between vla_status / /diagnostics messages (the '
                                'bridge treats vla_status as a heartbeat)',
          range=(0.0, None), open_low=True),
    Param('autostart', True, 'activate at start-up (the node configures itself, loading the '
                             'model, either way); false: no decisions until `ros2 lifecycle set '
                             '/vla activate`'),
    Param('loop_breaking', True, 'never execute a primitive twice from the same arm state (the '
                                 'sum of the executed motions and the gripper command since the '
                                 'instruction): pass over the already tried ones for the next '
                                 'best', dynamic=True),
    Param('stuck_detection', True, 'stop deciding when the executed decisions make no progress '
                                   '(state stuck, diagnostics ERROR) until a new instruction'),
    Param('stuck_window', _STUCK.window, 'executed decisions the stuck detector looks at',
          range=(2, 1000)),
    Param('stuck_min_progress', _STUCK.min_progress, 'metres; stuck when a full window of '
                                                     'decisions nets less motion than this '
                                                     'while its path is stuck_min_path or more',
          range=(0.0, None)),
    Param('stuck_min_path', _STUCK.min_path, "metres; the window's summed path length for the "
                                             'rule above (rotations: 0.785 rad as 0.1 m); '
                                             'above stuck_min_progress',
          range=(0.0, None), open_low=True),
    Param('stuck_cycles', _STUCK.cycles, 'stuck when the same cycle of 2 to 4 primitives whose '
                                         'motions cancel (up/down: A/B/A/B) repeats this many '
                                         'times in a row (a cycle of 5 to 8: until it covers 4x '
                                         'this many decisions, at least 3 times); 0 = off',
          range=(0, 1000)),
    Param('stuck_gripper_toggles', _STUCK.gripper_toggles, 'stuck after this many gripper '
                                                           'open/close changes within the '
                                                           'window; 0 = off', range=(0, 1000)),
    Param('stuck_loop_breaks', _STUCK.loop_breaks, 'stuck when loop_breaking passed over the '
                                                   "policy's choice this many times within the "
                                                   'window; 0 = off', range=(0, 1000)),
    LISTENER_NODE,
)

ARM_BRIDGE = (
    Param('mode', 'joint_trajectory', "'joint_trajectory' (ros2_control controller, IK here) "
                                      "or 'servo' (MoveIt Servo twists)", choices=BRIDGE_MODES),
    Param('enable_actuation', False, 'false: dry run, log the commands instead of sending '
                                     'them'),
    Param('arm_config', '', "packaged arm ('ur5e', 'fr3': config/arms/) or an arm "
                            'configuration YAML (frames, home, gripper, workspace box, speed '
                            "caps); '' = the packaged config/sim.yaml (the simulator's UR5e)"),
    Param('urdf', '', "the arm's URDF file; '' = the robot_description parameter, else the "
                      'robot_description topic (latched, as robot_state_publisher publishes '
                      'it). Needed by an arm configuration with a urdf section (ur5e, fr3)'),
    Param('robot_description', '', "the arm's URDF as XML text (robot_state_publisher's "
                                   "parameter); '' = the urdf file or the topic"),
    Param('tool_frame', '', "URDF link the primitives move ('' = the arm configuration's)"),
    Param('joint_limits', '', 'joint_limits YAML (MoveIt / ros2_control format) tightening the '
                              "URDF's position and velocity limits ('' = none)"),
    Param('description_timeout', 10.0, 'seconds configure waits for the robot_description '
                                       'topic', range=(0.0, None)),
    Param('max_step_translation', 0.2, 'metres; a primitive asking for a larger translation is '
                                       "refused (the vocabulary's largest is 0.2: a smaller "
                                       'limit refuses some of its primitives)',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('max_step_rotation', 1.6, 'radians; a primitive asking for a larger rotation is '
                                    "refused (the vocabulary's largest is a quarter turn, "
                                    '1.571: a smaller limit refuses some of its primitives)',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('command_timeout', 1.0, 'seconds without a word from the VLA node (vla_status / '
                                  'primitive_delta) while the arm moves -> halt',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('vla_node', 'vla', "the VLA node ('vla': in the bridge's namespace; '/ns/vla': "
                             'absolute): only its messages (and those of the node whose '
                             'primitive runs) feed the command_timeout watchdog; other '
                             'publishers on vla_status are ignored (counted, warned once)'),
    LISTENER_NODE,
    Param('joint_jump_slack', 2.0, 'a joint state whose arm joints moved more since the last '
                                   'one than this times their velocity limits allow (over at '
                                   'least 0.05 s) is rejected and halts the arm',
          range=(1.0, None), dynamic=True),
    Param('joint_trust_after', 1.0, 'seconds of a single publisher of the arm joints (after a '
                                    'second one sent them) before the bridge plans again',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('joint_state_timeout', 0.5, 'seconds; older joint_states -> refuse to plan',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('settle_time', 0.24, 'seconds after a trajectory ends before judging where the arm '
                               'got to', range=(0.0, None), dynamic=True),
    Param('servo_rate', 50.0, 'Hz of twist messages in servo mode (also the control tick)',
          range=(0.0, None), open_low=True),
    Param('base_frame', '', "URDF link poses, the workspace box and the twists are in ('' = "
                            "the arm configuration's; config/sim.yaml: base_link)"),
    Param('autostart', False, 'activate at start-up (the node configures itself, loading the '
                              'arm description, either way); false: inactive, no commands, '
                              'until `ros2 lifecycle set /arm_bridge activate`'),
)

SIMULATOR = (
    Param('task', 'reach_block', 'task of the first episode (later ones come on '
                                 'episode_request)'),
    Param('seed', 0, 'seed of the first episode', range=(0, None)),
    Param('real_time_factor', 1.0, 'simulated seconds per wall-clock second',
          range=(0.0, None), open_low=True, dynamic=True),
    Param('camera_rate', 25.0, 'camera frames per simulated second (rounded to whole control '
                               'ticks)', range=(0.0, None), open_low=True),
    Param('image_width', 224, 'camera image width in pixels', range=(1, None)),
    Param('image_height', 224, 'camera image height in pixels', range=(1, None)),
    Param('frame_id', 'front_camera', 'frame_id of the camera images'),
    Param('publish_clock', True, 'publish /clock (the graph runs on simulated time)'),
)

PLAYER = (
    Param('bag', '', 'the rosbag2 bag to play, or a directory of bags (played one after the '
                     'other)'),
    Param('rate', 1.0, 'playback speed (1.0 = as recorded)', range=(0.0, None), open_low=True),
    Param('image_topic', '/image_raw', 'camera topic in the bag (published on image_raw)'),
    Param('instruction_topic', '/instruction', 'instruction topic in the bag (published on '
                                               'instruction)'),
    Param('joint_states_topic', '/joint_states', 'joint state topic in the bag (published on '
                                                 'joint_states when the bag has it: models '
                                                 'trained with proprioception need it)'),
    Param('start_delay', 2.0, 'seconds to wait before playing, so subscribers are discovered',
          range=(0.0, None)),
    Param('publish_clock', True, 'publish /clock following the bag time'),
    Param('lockstep', False, 'after each camera frame (and what was recorded at the same '
                             'instant, e.g. its joint state), wait (up to 10 s of wall time) '
                             'for the VLA node to decide on it before playing on, so scoring a '
                             'bag loses no step on a busy machine (meanwhile the bag clock '
                             'creeps on by at most 50 ms)'),
    Param('wait_for_start', False, 'play only after a message on replay_start (latched): a '
                                   'scorer sends it once it listens to the VLA node, so the '
                                   'first decisions are not missed'),
)

# node name (and its key in config/nodes.yaml) -> its parameters
NODES = {
    'camera': CAMERA,
    'instruction_listener': INSTRUCTION_LISTENER,
    'vla': VLA,
    'arm_bridge': ARM_BRIDGE,
    'simulator': SIMULATOR,
    'player': PLAYER,
}


def parameter(node, name):
    """The Param ``name`` of ``node`` (KeyError naming both when there is none)."""
    for p in NODES[node]:
        if p.name == name:
            return p
    raise KeyError(f'node {node!r} has no parameter {name!r}')

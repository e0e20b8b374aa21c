"""The node graph, described once.

``PROFILES`` says which nodes each launch profile starts, with which launch arguments and how
those arguments become node parameters. Both the ROS 2 launch files (``launch/*.launch.py`` via
:func:`launch_description`) and the embedded launcher (``contrastive-vla launch``, for machines
without ``ros2 launch``) are built from it, so there is no second copy of the graph.

Precedence, as ROS users expect (:func:`node_parameters`, the one recipe of both launchers):
the packaged defaults (``config/nodes.yaml``) < the profile's own argument defaults < the
user's ``params_file`` < the launch arguments the user actually gave. An argument not given
sets nothing, so a ``params_file`` that sets ``vla.model`` is not overruled by the ``model``
argument's default.
"""

from dataclasses import dataclass, field, replace

import yaml

from contrastive_vla.core.resources import config_path
from contrastive_vla.ros.node_parameters import parameter

PACKAGE = 'contrastive_vla'


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str


@dataclass(frozen=True)
class NodeSpec:
    name: str            # node name (and key in node_parameters.NODES, config/nodes.yaml)
    executable: str      # console script (ros2 run contrastive_vla <executable>)
    module: str          # python -m <module> runs the same node
    # node parameter -> launch argument whose value it takes
    arguments: dict = field(default_factory=dict)
    sim_time: bool = True  # follows use_sim_time (the simulator is the clock: it does not)
    fixed: dict = field(default_factory=dict)  # parameters this profile always sets
    condition: str = None  # a launch argument: the node starts only when it is 'true'


def _from_node(node, param, name=None, description=None):
    """A launch argument setting a node parameter: its default comes from the parameter's
    declaration, so it is written once (``description`` when the profile words it better)."""
    p = parameter(node, param)
    return Argument(name or param, p.launch_default, description or p.description)


def _node(name, module, arguments=None, sim_time=True):
    return NodeSpec(name, f'{module}_node', f'contrastive_vla.ros.nodes.{module}',
                    dict(arguments or {}), sim_time)


COMMON_ARGUMENTS = (
    Argument('params_file', '', 'ROS 2 parameters file overriding config/nodes.yaml and the '
                                "profile's argument defaults (launch arguments you give beat "
                                "it; '' = none)"),
    Argument('namespace', '', 'namespace of every node and topic'),
    _from_node('vla', 'model'),
    _from_node('vla', 'device'),
)

VLA = _node('vla', 'vla', {'model': 'model', 'device': 'device'})
# sim and robot: vla:=false leaves the arm to `contrastive-vla teleop --arm ros`
OPTIONAL_VLA = replace(VLA, condition='vla')
VLA_ARGUMENT = Argument('vla', 'true', 'start the VLA node (false: nothing decides; '
                                       '`contrastive-vla teleop --arm ros` steers the arm)')
LISTENER = _node('instruction_listener', 'instruction')


@dataclass(frozen=True)
class Profile:
    description: str
    arguments: tuple
    nodes: tuple


PROFILES = {
    'sim': Profile(
        'the whole stack on the MuJoCo simulator (the arm moves: actuation on)',
        COMMON_ARGUMENTS + (
            Argument('use_sim_time', 'true', "follow the simulator's /clock"),
            Argument('enable_actuation', 'true', 'send commands to the (simulated) arm'),
            Argument('autostart', 'true', 'activate the arm bridge at start-up (false: it waits, '
                                          'inactive, for `ros2 lifecycle set /arm_bridge '
                                          'activate`)'),
            _from_node('simulator', 'task', description='first simulated task'),
            _from_node('simulator', 'seed', description='seed of the first simulated episode'),
            _from_node('simulator', 'real_time_factor'),
            VLA_ARGUMENT,
        ),
        (_node('simulator', 'simulator', {'task': 'task', 'seed': 'seed',
                                          'real_time_factor': 'real_time_factor'},
               sim_time=False),
         LISTENER, OPTIONAL_VLA,
         _node('arm_bridge', 'arm_bridge', {'enable_actuation': 'enable_actuation',
                                            'autostart': 'autostart'}))),
    'robot': Profile(
        'a real camera and arm controllers (dry run unless enable_actuation:=true)',
        COMMON_ARGUMENTS + (
            Argument('use_sim_time', 'false', 'follow /clock instead of the system clock'),
            _from_node('arm_bridge', 'enable_actuation',
                       description='send commands to the arm (false: dry run that logs what it '
                                   'would send)'),
            Argument('camera_source', '0', 'camera index, /dev/video path, video file or '
                                           'image directory'),
            _from_node('arm_bridge', 'autostart',
                       description='activate the arm bridge at start-up (false: it starts '
                                   'configured but inactive, sending nothing, until `ros2 '
                                   'lifecycle set /arm_bridge activate`)'),
            _from_node('arm_bridge', 'mode', name='bridge_mode'),
            _from_node('arm_bridge', 'arm_config', name='arm',
                       description="the arm: 'ur5e' or 'fr3' (config/arms/, kinematics from "
                                   'the URDF on the robot_description topic or urdf:=FILE), an '
                                   "arm configuration YAML, or '' = the simulator's UR5e "
                                   '(config/sim.yaml)'),
            _from_node('arm_bridge', 'urdf'),
            VLA_ARGUMENT,
        ),
        (_node('camera', 'camera', {'source': 'camera_source'}),
         LISTENER, OPTIONAL_VLA,
         _node('arm_bridge', 'arm_bridge', {'enable_actuation': 'enable_actuation',
                                            'autostart': 'autostart',
                                            'mode': 'bridge_mode',
                                            'arm_config': 'arm', 'urdf': 'urdf'}))),
    'replay': Profile(
        "a recorded bag's camera and instruction played into the VLA node (on the bag's "
        'clock); no arm',
        COMMON_ARGUMENTS + (
            Argument('use_sim_time', 'true', "follow the player's /clock (the bag time)"),
            Argument('enable_actuation', 'false', 'unused: the replay graph has no arm bridge'),
            _from_node('player', 'bag'),
            _from_node('player', 'rate'),
            _from_node('player', 'image_topic'),
            _from_node('player', 'instruction_topic'),
        ),
        (_node('player', 'player', {'bag': 'bag', 'rate': 'rate', 'image_topic': 'image_topic',
                                    'instruction_topic': 'instruction_topic'}, sim_time=False),
         LISTENER,
         # scoring a bag needs a decision on every frame: none lost between processes
         replace(VLA, fixed={'wait_for_outcome': 'false', 'reliable_images': 'true'}))),
}


def profile(name):
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f'unknown launch profile {name!r}; choose from '
                       f'{", ".join(PROFILES)}') from None


def resolve_arguments(profile_name, overrides):
    """Launch argument values: defaults updated by ``overrides`` (unknown names refused)."""
    prof = profile(profile_name)
    values = {a.name: a.default for a in prof.arguments}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise KeyError(f'unknown launch argument(s) {unknown} for {profile_name!r}; valid: '
                       f'{", ".join(sorted(values))}')
    for arg in prof.arguments:
        if arg.name in overrides and _is_boolean(arg):
            is_true(overrides[arg.name], arg.name)  # a typo (vla:=flase) is refused here
    values.update(overrides)
    return values


BOOLEAN_VALUES = ('true', 'false')


def _is_boolean(argument):
    return argument.default.strip().lower() in BOOLEAN_VALUES


def is_true(value, name='argument'):
    """A boolean launch argument's value: 'true' or 'false' (any case); anything else is a
    ValueError naming the argument, so ``vla:=flase`` does not quietly mean false."""
    text = str(value).strip().lower()
    if text not in BOOLEAN_VALUES:
        raise ValueError(f'launch argument {name}:={value} must be true or false.')
    return text == 'true'


def started_nodes(profile_name, values):
    """The NodeSpecs of a profile that start with these launch argument values."""
    return tuple(spec for spec in profile(profile_name).nodes
                 if spec.condition is None or is_true(values[spec.condition], spec.condition))


def default_params_file():
    return str(config_path('nodes.yaml'))


def node_parameter_arguments(profile_name):
    """Launch arguments that set a node parameter (or use_sim_time): not given, they set
    nothing, and the params_file or the profile's default decides."""
    return {'use_sim_time'} | {arg for spec in profile(profile_name).nodes
                               for arg in spec.arguments.values()}


def node_parameters(spec, values, given):
    """The parameters (ROS command-line text) a node gets from the launch arguments, split by
    precedence around the user's params file: ``(defaults, overrides)``. ``defaults`` go
    between the packaged parameters file and the user's, which beats them: the profile's
    argument defaults where they differ from the declared default (the sim profile's
    enable_actuation:=true). ``overrides`` go after it and win: the arguments in ``given``
    (what the user typed) and the profile's ``fixed`` ones.
    An argument neither given nor differing from the declaration sets nothing."""
    defaults, overrides = {}, {}
    for param, arg in spec.arguments.items():
        declared = parameter(spec.name, param)
        if arg in given:
            overrides[param] = _typed(values[arg], declared.default)
        elif values[arg] != declared.launch_default:
            defaults[param] = _typed(values[arg], declared.default)
    if spec.sim_time:
        target = overrides if 'use_sim_time' in given else defaults
        target['use_sim_time'] = values.get('use_sim_time', 'false')
    overrides.update(spec.fixed)
    return defaults, overrides


def launch_description(profile_name):
    """A ``launch.LaunchDescription`` of a profile (needs ROS 2's launch and launch_ros).

    Arguments that set node parameters are declared with the default '' (= not given) and
    resolved at launch time (an OpaqueFunction), so only the values the user gave beat the
    params file; their description names the default they stand for.
    """
    try:
        # deferred: launch exists only in a ROS install; the embedded launcher does not need it
        from launch.actions import DeclareLaunchArgument, OpaqueFunction

        from launch import LaunchDescription
    except ImportError as exc:
        raise ImportError(f'ros2 launch needs the ROS 2 packages launch and launch_ros ({exc}); '
                          'without them use: contrastive-vla launch '
                          f'{profile_name} [name:=value ...]') from None
    prof = profile(profile_name)
    deferred = node_parameter_arguments(profile_name)
    actions = []
    for arg in prof.arguments:
        if arg.name in deferred:
            shown = arg.default or "''"
            actions.append(DeclareLaunchArgument(
                arg.name, default_value='',
                description=f'{arg.description} [default: {shown}; not given, a value in '
                            'params_file wins]'))
            continue
        actions.append(DeclareLaunchArgument(arg.name, default_value=arg.default,
                                             description=arg.description))
    actions.append(OpaqueFunction(function=_launch_nodes, args=[profile_name]))
    return LaunchDescription(actions)


def _launch_nodes(context, profile_name):
    """The profile's Node actions for the launch arguments given (at launch time)."""
    # deferred: launch exists only in a ROS install (launch_description checked it)
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    given = {}
    for arg in profile(profile_name).arguments:
        text = LaunchConfiguration(arg.name).perform(context)
        if text != '':  # '' = not given (the declared default of the deferred ones)
            given[arg.name] = text
    values = resolve_arguments(profile_name, given)

    def typed(params):
        # as `-p name:=text` would read it; strings stay strings (launch_ros reads plain text
        # as YAML: '0' would become an integer)
        out = {}
        for name, text in params.items():
            value = yaml.safe_load(str(text))
            out[name] = ParameterValue(value, value_type=str) if isinstance(value, str) \
                else value
        return out

    nodes = []
    for spec in started_nodes(profile_name, values):
        defaults, overrides = node_parameters(spec, values, set(given))
        nodes.append(Node(package=PACKAGE, executable=spec.executable, name=spec.name,
                          namespace=values['namespace'], output='screen',
                          parameters=[default_params_file(), typed(defaults)]
                          + ([values['params_file']] if values['params_file'] else [])
                          + [typed(overrides)]))
    return nodes


def node_argv(module, name, python, *, namespace='', params_file=None, params=None,
              remaps=None, packaged_params_file=None, defaults=None):
    """argv that runs one node in its own process (``python -m module --ros-args ...``): the
    one recipe of the embedded launcher and the test harness. On a ROS command line the later
    of ``-p`` and ``--params-file`` wins, so the order is the precedence:
    ``packaged_params_file`` < ``defaults`` ({name: text}) < ``params_file`` < ``params``."""
    cmd = [python, '-m', module, '--ros-args', '-r', f'__node:={name}']
    if namespace:
        cmd += ['-r', f'__ns:=/{namespace.strip("/")}']
    if packaged_params_file:
        cmd += ['--params-file', str(packaged_params_file)]
    for param, value in (defaults or {}).items():
        cmd += ['-p', f'{param}:={value}']
    if params_file:
        cmd += ['--params-file', str(params_file)]
    for param, value in (params or {}).items():
        cmd += ['-p', f'{param}:={value}']
    for src, dst in (remaps or {}).items():
        cmd += ['-r', f'{src}:={dst}']
    return cmd


def node_command(spec, values, python, given):
    """argv that runs one node of the graph in its own process (the embedded launcher).

    ``values``: every launch argument (:func:`resolve_arguments`); ``given``: the names of
    those the user gave, which beat the params file (:func:`node_parameters`)."""
    defaults, overrides = node_parameters(spec, values, given)
    return node_argv(spec.module, spec.name, python, namespace=values.get('namespace', ''),
                     packaged_params_file=default_params_file(), defaults=defaults,
                     params_file=values.get('params_file') or None, params=overrides)


def _typed(value, default):
    """Spell a launch argument so ROS parses it as the parameter's declared type
    (a double parameter given '2' must be written '2.0')."""
    text = str(value)
    if isinstance(default, float) and not isinstance(default, bool):
        try:
            return repr(float(text))
        except ValueError:
            return text
    if isinstance(default, str):
        if text == '':
            return "''"
        if not isinstance(_yaml_or_none(text), str):
            # '0' (a camera index) would reach the node as an integer: quote it
            return yaml.safe_dump(text, default_style="'").strip()
    return text


def _yaml_or_none(text):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None

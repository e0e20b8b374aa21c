"""Language-instruction listener: instruction (raw) -> active_instruction (validated, latched).

A stop sentence (``control.instruction``: a stop word or phrase anywhere in a short clause,
recognised before any other check) raises the listener's own stop at once and never becomes
the task. A release word ("continue") releases that stop, and so does, with
``stop_released_by_new_instruction``, the next valid task instruction; any other sentence
("wait", "no no no", "ok") changes nothing while the stop holds. The listener's stop and an
e-stop raised from outside are independent holders (``control.stops``): the listener's stop
goes out, latched, on ``listener_stop``; every ``estop`` message it hears (``ros2 topic pub``,
a driver; default QoS) is relayed, latched, on ``estop_state`` (for nodes started later, see
``ros.qos``). Releasing its own stop never lifts an outside e-stop: only a False on ``estop``
does. Rejected sentences are logged with the reason and change nothing.
"""

from rclpy.node import Node
from std_msgs.msg import Bool, String

from contrastive_vla.control.instruction import InstructionError, interpret, phrases
from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError, guarded, run_node, warn_by_reason


class InstructionListener(Node):
    def __init__(self, **kwargs):
        super().__init__('instruction_listener', **kwargs)
        self.p = params.declare(self, NODES['instruction_listener'])
        try:
            phrases(self.p['stop_words'])  # punctuation-only words would disable stopping
        except ValueError as exc:
            raise NodeStartupError(f'instruction_listener: parameter {exc}') from None

        self.active_pub = self.create_publisher(String, topic('active_instruction').name,
                                                qos.latched())
        # the relay goes out on estop_state, never on estop: the listener hears estop and must
        # not hear its own echo there; its own stop on listener_stop (a separate holder)
        self.estop_pub = self.create_publisher(Bool, topic('estop_state').name, qos.latched())
        self.stop_pub = self.create_publisher(Bool, topic('listener_stop').name, qos.latched())
        self.create_subscription(String, topic('instruction').name,
                                 guarded(self, 'instruction', self.on_instruction), qos.command())
        self.create_subscription(Bool, topic('estop').name, guarded(self, 'estop', self.on_estop),
                                 qos.default())
        self.raised_stop = False   # the listener's own stop (a stop sentence)
        self.outside = False       # the e-stop as last heard on estop
        self.active = None
        self.rejected = 0

    @property
    def estop(self):
        """Whether any stop the listener knows of holds (its own or one from outside)."""
        return self.raised_stop or self.outside

    def on_instruction(self, msg):
        try:
            instruction = interpret(msg.data, self.p['stop_words'], self.p['max_length'],
                                    self.p['release_words'])
        except InstructionError as exc:
            self.rejected += 1
            warn_by_reason(self, f'instruction rejected: {exc}', 1.0)
            return
        if instruction.is_stop:
            self.raised_stop = True
            self.stop_pub.publish(Bool(data=True))
            self.get_logger().warning(f'stop: {instruction.text!r}')
            return
        if self.raised_stop:
            if not (instruction.is_release or instruction.is_task):
                self.get_logger().warning(f'stop holds; {instruction.text!r} ignored (say '
                                          '"continue" or give a task)')
                return
            if instruction.is_release or self.p['stop_released_by_new_instruction']:
                self.raised_stop = False
                self.stop_pub.publish(Bool(data=False))
                self.get_logger().info(f'stop released by {instruction.text!r}' + (
                    '; the e-stop raised on estop still holds' if self.outside else ''))
        if instruction.is_release and not instruction.is_task:
            # also when this listener raised nothing: a stop latched by a listener that was
            # restarted since is this listener's to release
            self.stop_pub.publish(Bool(data=False))
            if self.estop:
                self.get_logger().warning('a release word releases only a stop this listener '
                                          'raised; release this one on estop')
            return  # "continue" resumes the active instruction, it does not replace it
        self.active = instruction.text
        self.active_pub.publish(messages.string(instruction.text))
        self.get_logger().info(f'instruction: {instruction.text!r}')

    def on_estop(self, msg):
        """An e-stop from outside: relayed as it is; the listener's own stop is another holder
        (it stays until released here, and an outside release does not lift it)."""
        raised = bool(msg.data)
        if raised != self.outside:
            self.get_logger().warning('e-stop raised on estop' if raised
                                      else 'e-stop released on estop')
        self.outside = raised
        # republished even when unchanged: it confirms to the bridge and the VLA node that the
        # listener knows of this raise (control.stops.OutsideStop)
        self.estop_pub.publish(Bool(data=raised))


def main(args=None):
    return run_node(InstructionListener, args)


if __name__ == '__main__':
    raise SystemExit(main())

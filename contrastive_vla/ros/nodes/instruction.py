"""Language-instruction listener: instruction (raw) -> active_instruction (validated, latched).

A stop word raises the e-stop at once (``estop``, latched Bool); with
``stop_released_by_new_instruction`` the next valid task instruction releases that stop (the
listener never releases a stop raised by anyone else: it only publishes False after its own
True). Rejected sentences are logged with the reason and change nothing.
"""

from rclpy.node import Node
from std_msgs.msg import Bool, String

from contrastive_vla.control.instruction import InstructionError, interpret
from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import run_node


class InstructionListener(Node):
    def __init__(self):
        super().__init__('instruction_listener')
        self.p = params.declare(self, NODES['instruction_listener'])

        self.active_pub = self.create_publisher(String, topic('active_instruction').name,
                                                qos.latched())
        self.estop_pub = self.create_publisher(Bool, topic('estop').name, qos.latched())
        self.create_subscription(String, topic('instruction').name, self.on_instruction,
                                 qos.command())
        self.raised_stop = False
        self.active = None
        self.rejected = 0

    def on_instruction(self, msg):
        try:
            instruction = interpret(msg.data, self.p['stop_words'], self.p['max_length'])
        except InstructionError as exc:
            self.rejected += 1
            self.get_logger().warning(f'instruction rejected: {exc}',
                                      throttle_duration_sec=1.0)
            return
        if instruction.is_stop:
            self.estop_pub.publish(Bool(data=True))
            self.raised_stop = True
            self.get_logger().warning(f'stop: {instruction.text!r}')
            return
        if self.raised_stop and self.p['stop_released_by_new_instruction']:
            self.estop_pub.publish(Bool(data=False))
            self.raised_stop = False
            self.get_logger().info('stop released by a new instruction')
        self.active = instruction.text
        self.active_pub.publish(messages.string(instruction.text))
        self.get_logger().info(f'instruction: {instruction.text!r}')


def main(args=None):
    return run_node(InstructionListener, args)


if __name__ == '__main__':
    raise SystemExit(main())

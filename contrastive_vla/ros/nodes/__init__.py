"""The graph's nodes, one module each: the node class and ``main`` (the ``ros2 run
contrastive_vla <executable>`` entry); their parameters are declared in ``ros.node_parameters``."""

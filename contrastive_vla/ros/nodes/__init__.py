"""The graph's nodes, one module each; every module has ``PARAMETERS`` (name -> description),
the node class and ``main`` (the ``ros2 run contrastive_vla <executable>`` entry)."""

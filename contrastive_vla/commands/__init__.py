"""Sub-commands of ``contrastive-vla``: argument parsing and printing over the library rooms."""

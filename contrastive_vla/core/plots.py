"""Figures written to files: matplotlib on its file-only Agg backend, imported when a plot is
first written (so commands that plot nothing never load it), and one way to save a figure."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (no display needed: robots, CI, ssh)."""
    # deferred: matplotlib loads only when a plot is written
    import matplotlib

    matplotlib.use('Agg')
    # deferred: matplotlib loads only when a plot is written
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Figure, out_png: str | Path, dpi: int = 100) -> None:
    """``fig`` laid out tight, written as the PNG ``out_png`` (its directory made), closed."""
    plt = pyplot()
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi)
    plt.close(fig)

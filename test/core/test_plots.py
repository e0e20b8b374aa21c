"""core/plots.py: figures go to files on the Agg backend, directories made."""

from contrastive_vla.core.plots import pyplot, save_figure


def test_a_figure_is_written_as_png_into_a_new_directory_and_closed(tmp_path):
    plt = pyplot()
    assert plt.get_backend().lower() == 'agg'
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    out = tmp_path / 'deep' / 'er' / 'plot.png'
    save_figure(fig, out, dpi=50)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not plt.fignum_exists(fig.number)

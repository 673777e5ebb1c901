"""The command line under hostile use (issue 19 items 9, 10, 12, 14, 15, 17).

Classes checked: every bad option value is refused before any work with a message that
names the option, what was expected and what came (no traceback); output paths are
checked (and folders created) before any work, and a partial set of outputs is reported
as such; every option's help shows its default; fig2 labels unproven MILP values
separately and counts overestimates against proven values only; the plots mark region
cuts and share one colour scale; a mesh too large for memory is refused up front.

Truths used: the option and value the test passed; files on disk; work functions replaced
by ones that fail the test if called ("before any work"); pattern changes counted by
dense sampling along the circle; mesh sizes of the meshes actually built; values
injected into fig2 rows by the test.
"""

import gzip
import re

import numpy as np
import pandas as pd
import pytest
import torch

import polyrank as pr
from polyrank import cli
from polyrank.cli import main


def _no_work(*args, **kwargs):
    raise AssertionError("the command started its work before checking its options")


def _exit(args, capsys):
    """Run main(args); return (exit code, message) of the SystemExit it must raise."""
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    code = info.value.code
    return (code if isinstance(code, int) else 1), (code if isinstance(code, str) else err)


# --------------------------------------------------------------------------- item 10: values
@pytest.mark.parametrize("args, option, value", [
    (["enumerate", "--box", "-5"], "--box", "-5"),
    (["enumerate", "--box", "nan"], "--box", "nan"),
    (["enumerate", "--box", "inf"], "--box", "inf"),
    (["enumerate", "--input-dim", "0"], "--input-dim", "0"),
    (["enumerate", "--input-dim", "-1"], "--input-dim", "-1"),
    (["enumerate", "--widths", "-3,4"], "--widths", "-3,4"),
    (["enumerate", "--widths", "3,,4"], "--widths", "3,,4"),
    (["enumerate", "--max-regions", "0"], "--max-regions", "0"),
    (["enumerate", "--seed", "-2"], "--seed", "-2"),
    (["enumerate", "--layer", "0"], "--layer", "0"),
    (["analyze", "--resolution", "2"], "--resolution", "2"),
    (["analyze", "--scale", "-1"], "--scale", "-1"),
    (["analyze", "--widths", "8,-8"], "--widths", "8,-8"),
    (["analyze", "--threshold", "-1"], "--threshold", "-1"),
    (["reproduce", "fig2a", "--time-limit", "nan"], "--time-limit", "nan"),
    (["reproduce", "fig2a", "--networks", "0"], "--networks", "0"),
    (["reproduce", "fig3ab", "--epochs", "-1"], "--epochs", "-1"),
    (["reproduce", "fig3c", "--levels", "1"], "--levels", "1"),
    (["reproduce", "fig3c", "--widths", "-4"], "--widths", "-4"),
    (["reproduce", "appendix", "--functions", "nope"], "--functions", "nope"),
])
def test_bad_values_name_option_expected_and_got(args, option, value, capsys, monkeypatch):
    monkeypatch.setattr(pr.enumerate, "enumerate_regions", _no_work)
    code, msg = _exit(args, capsys)
    assert code == 2
    assert option in msg and "expected" in msg and repr(value) in msg, msg
    assert "Traceback" not in msg


def test_bad_model_files(tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a torch file")
    _, msg = _exit(["enumerate", "--model", str(garbage)], capsys)
    assert "--model" in msg and "garbage.pt" in msg and "torch.save" in msg
    wrong = tmp_path / "list.pt"
    torch.save([1, 2, 3], wrong)
    _, msg = _exit(["enumerate", "--model", str(wrong)], capsys)
    assert "--model" in msg and "list" in msg and "nn.Module" in msg
    _, msg = _exit(["enumerate", "--model", str(tmp_path)], capsys)
    assert "--model" in msg and "folder" in msg


def _mnist_dir(path, train_side=28, test_side=28, truncate=None):
    path.mkdir()
    rng = np.random.default_rng(0)
    for split, n, side in (("train", 20, train_side), ("t10k", 10, test_side)):
        pr.data.write_idx(str(path / f"{split}-images-idx3-ubyte.gz"),
                          rng.integers(0, 256, size=(n, side, side), dtype=np.uint8))
        pr.data.write_idx(str(path / f"{split}-labels-idx1-ubyte.gz"), (np.arange(n) % 10).astype(np.uint8))
    if truncate:
        f = path / truncate
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2])
    return path


def test_mnist_files_are_checked_before_training(tmp_path, capsys, monkeypatch):
    import polyrank.train as train

    monkeypatch.setattr(train, "fit", _no_work)
    d = _mnist_dir(tmp_path / "trunc", truncate="t10k-images-idx3-ubyte.gz")
    _, msg = _exit(["reproduce", "fig3ab", "--data-dir", str(d), "--epochs", "1", "--out", str(tmp_path / "o1")],
                   capsys)
    assert "t10k-images-idx3-ubyte.gz" in msg and "truncated" in msg
    d = _mnist_dir(tmp_path / "sizes", train_side=28, test_side=10)
    _, msg = _exit(["reproduce", "fig3ab", "--data-dir", str(d), "--epochs", "1", "--out", str(tmp_path / "o2")],
                   capsys)
    assert "28x28" in msg and "10x10" in msg and "t10k-images" in msg and "train-images" in msg


# --------------------------------------------------------------------------- item 9: outputs
def test_unusable_outputs_are_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import polyrank.analysis as analysis
    import polyrank.experiments.fig3_mnist as fig3_mnist
    import polyrank.experiments.fig3c_cli as fig3c_cli

    monkeypatch.setattr(pr.enumerate, "enumerate_regions", _no_work)
    monkeypatch.setattr(analysis, "analyze", _no_work)
    monkeypatch.setattr(fig3c_cli, "run_fig3c", _no_work)
    monkeypatch.setattr(fig3_mnist, "run", _no_work)
    afile = tmp_path / "afile"
    afile.write_text("x")
    under = str(afile / "sub" / "out.csv")
    for args, option in (
        (["enumerate", "--widths", "3", "--csv", under], "--csv"),
        (["enumerate", "--widths", "3", "--plot", under], "--plot"),
        (["enumerate", "--widths", "3", "--plot", str(tmp_path)], "--plot"),
        (["analyze", "--manifold", "circle", "--csv", under], "--csv"),
        (["analyze", "--manifold", "circle", "--plot", under], "--plot"),
        (["reproduce", "fig3c", "--quick", "--out", str(afile)], "--out"),
        (["reproduce", "fig3c", "--quick", "--out", str(afile / "x")], "--out"),
        (["reproduce", "fig3ab", "--dataset", "digits", "--out", str(afile / "x")], "--out"),
        (["reproduce", "fig2a", "--out", str(afile)], "--out"),
    ):
        _, msg = _exit(args, capsys)
        assert option in msg and "afile" in msg or "folder" in msg, (args, msg)
        assert "Traceback" not in msg


def test_missing_output_folders_are_created(tmp_path, capsys):
    csv = tmp_path / "new" / "deeper" / "regions.csv"
    assert main(["enumerate", "--widths", "3", "--box", "1", "--method", "lp", "--csv", str(csv)]) == 0
    n = int(re.search(r"regions\s+(\d+)", capsys.readouterr().out).group(1))
    assert len(pd.read_csv(csv)) == n


def test_partial_outputs_are_reported(tmp_path, capsys, monkeypatch):
    import polyrank.plot as plot

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(plot, "plot_decomposition", broken)
    csv, png = tmp_path / "r.csv", tmp_path / "r.png"
    rc = main(["enumerate", "--widths", "3", "--box", "1", "--method", "lp", "--csv", str(csv), "--plot", str(png)])
    captured = capsys.readouterr()
    assert rc == 1
    assert csv.exists() and not png.exists()
    assert "partial outputs" in captured.err and "r.png" in captured.err and "No space left" in captured.err
    assert f"wrote {csv}" in captured.out


def test_library_errors_end_without_traceback(capsys, monkeypatch):
    def limit(*args, **kwargs):
        raise pr.RegionLimitError("more than 5 regions")

    monkeypatch.setattr(pr.enumerate, "enumerate_regions", limit)
    _, msg = _exit(["enumerate", "--widths", "3", "--max-regions", "5"], capsys)
    assert msg.startswith("polyrank enumerate: error: more than 5 regions") and "POLYRANK_TRACEBACK" in msg


# --------------------------------------------------------------------------- item 12: help
def _parsers():
    from polyrank.experiments import fig2, fig3_mnist, fig3c_cli

    sub = __import__("argparse").ArgumentParser().add_subparsers()
    return {"enumerate": cli._enumerate_parser(sub), "analyze": cli._analyze_parser(),
            "fig2a": fig2.build_parser("fig2a"), "fig3ab": fig3_mnist.build_parser("fig3ab"),
            "fig3c": fig3c_cli.build_parser("fig3c"), "appendix": fig3c_cli.build_parser("appendix")}


def test_every_option_has_help_with_its_default():
    for name, p in _parsers().items():
        fmt = p.formatter_class(p.prog)
        for a in p._actions:
            if not a.option_strings or "-h" in a.option_strings:
                continue
            text = fmt._get_help_string(a) or ""
            assert a.help and "default" in text.lower(), (name, a.option_strings, text)


def test_help_texts_state_what_was_hidden(capsys):
    with pytest.raises(SystemExit):
        main(["enumerate", "--help"])
    out = capsys.readouterr().out
    assert "16,16,16" in out
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "circle of radius 2" in out and "klein (>= 4)" in out and "R^4" in out


def test_reproduce_help_lists_figures_and_options(capsys):
    assert main(["reproduce", "--help"]) == 0
    out = capsys.readouterr().out
    for fig in cli.FIGURES:
        assert fig in out
    for opt in ("--time-limit", "--data-dir", "--levels", "--functions", "--quick", "--out"):
        assert opt in out
    assert main(["reproduce"]) == 2
    err = capsys.readouterr().err
    assert "usage: polyrank reproduce FIGURE" in err


def test_one_default_output_folder_scheme():
    for fig in cli.FIGURES:
        p = __import__("importlib").import_module(f"polyrank.experiments.{cli.FIGURES[fig]}").build_parser(fig)
        assert p.parse_args([]).out == cli.DEFAULT_OUT.format(figure=fig) == f"polyrank-{fig}"


def test_analyze_defaults_work_for_every_manifold(capsys):
    assert main(["analyze", "--manifold", "klein", "--resolution", "4", "--widths", "3"]) == 0
    assert "klein in R^4" in capsys.readouterr().out
    assert main(["analyze", "--manifold", "circle", "--resolution", "8", "--widths", "3"]) == 0
    assert "circle in R^2" in capsys.readouterr().out


@pytest.mark.slow
def test_analyze_runs_on_a_solid(capsys):
    assert main(["analyze", "--manifold", "ball", "--resolution", "4", "--widths", "8"]) == 0
    out = capsys.readouterr().out
    assert "ball in R^3" in out and "b3" in out and "f(X)  (exact)              1   0   0   0" in out


# --------------------------------------------------------------------------- item 17: memory
@pytest.mark.parametrize("manifold, n", [("circle", 7), ("torus", 7), ("sphere", 5), ("klein", 6), ("ball", 13),
                                         ("solid_torus", 25)])
def test_mesh_size_estimate_is_the_built_mesh(manifold, n):
    K = cli._make_manifold(manifold, n, 0)
    assert cli._mesh_size(manifold, n) == (K.n_vertices, len(K.simplices))


def test_too_large_a_network_is_refused_before_building(capsys, monkeypatch):
    import polyrank.train as train

    monkeypatch.setattr(train, "mlp", _no_work)
    _, msg = _exit(["enumerate", "--widths", "100000,100000", "--max-memory", "1"], capsys)
    need = float(re.search(r"needs ([\d.]+) GiB", msg).group(1))
    assert "--widths" in msg and need >= 12 * 100000 * 100000 / 2**30 > 1


def test_too_large_a_mesh_is_refused_before_building(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_make_manifold", _no_work)
    _, msg = _exit(["analyze", "--resolution", "100000000"], capsys)
    assert "--resolution 100000000" in msg and "GiB" in msg and "--max-memory" in msg
    _, msg = _exit(["analyze", "--resolution", "2000", "--max-memory", "0.5"], capsys)
    need = float(re.search(r"need about ([\d.e+]+) GiB", msg).group(1))
    assert need > 0.5
    assert need * 2**30 >= 8000 * (2 * 2000 * 1000)  # measured: 8.3 kB per torus triangle


# --------------------------------------------------------------------------- item 14: fig2 proven / unproven
def test_fig2_keeps_unproven_values_apart(monkeypatch, tmp_path):
    import dataclasses

    import polyrank.milp as milp
    from polyrank.experiments import fig2

    real = milp.min_rank
    calls = []

    def flaky(net, box, **kw):
        res = real(net, box, **kw)
        calls.append(res)
        if len(calls) % 2 == 0:  # every second network "hits the time limit" with a worse witness
            return dataclasses.replace(res, value=0, status="time_limit", exact=False, bound=0)
        return res

    monkeypatch.setattr(milp, "min_rank", flaky)
    df = fig2.panel_a(4, 60, input_dims=[3], widths=[6], n_workers=1)
    unproven = ~df.min_exact.astype(bool)
    assert unproven.sum() == 2
    assert df.loc[unproven, "exact_min_rank"].isna().all()
    assert (df.loc[unproven, "unproven_min_rank"] == 0).all()
    assert df.loc[~unproven, "unproven_min_rank"].isna().all()
    assert (df.loc[~unproven, "exact_min_rank"] <= df.loc[~unproven, "sampled_min_rank"]).all()
    # overestimates only against proven values: the fake 0s would count otherwise
    summ = fig2.overestimate_summary(df)
    proven_rows = df[~unproven]
    assert int(summ.over.sum()) == int((proven_rows.sampled_min_rank > proven_rows.exact_min_rank).sum())
    assert int(summ.proven.sum()) == 2 and int(summ.unproven.sum()) == 2
    # the CSV round trip keeps "not proven" empty, not a number
    csv = tmp_path / "a.csv"
    df.to_csv(csv, index=False)
    back = pd.read_csv(csv)
    assert back.loc[unproven.to_numpy(), "exact_min_rank"].isna().all()
    ax = fig2.plot_panel(df)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("unproven" in lab for lab in labels) and any("exact (proven)" in lab for lab in labels)
    exact_line = next(line for line in ax.get_lines() if "exact (proven)" in line.get_label())
    assert np.allclose(exact_line.get_ydata(), proven_rows.exact_min_rank.astype(float).mean())


# --------------------------------------------------------------------------- item 15: plots
def test_circle_plot_marks_every_region_cut():
    from polyrank.train import mlp

    net = pr.ReLUNetwork.from_torch(mlp(2, [5, 4], seed=1))
    K = pr.circle(40, radius=2.0)
    fig = pr.plot_analysis(pr.analyze(net, K))
    marks = [c for c in fig.axes[0].collections if c.get_label() == "region cuts"]
    assert len(marks) == 1
    # independent count: pattern changes along the polygon, by dense sampling of each edge
    V = K.vertices
    t = np.linspace(0, 1, 2000, endpoint=False)
    pts = np.concatenate([V[i] + t[:, None] * (V[(i + 1) % len(V)] - V[i]) for i in range(len(V))])
    P = net.patterns(pts, flat=True)
    changes = int((P != np.roll(P, -1, axis=0)).any(axis=1).sum())
    assert len(marks[0].get_offsets()) == changes > 0


def test_colour_bar_clears_the_z_tick_labels():
    from polyrank.train import mlp

    net = pr.ReLUNetwork.from_torch(mlp(3, [6], seed=0))
    fig = pr.plot_analysis(pr.analyze(net, pr.torus(10, 5)))
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    ax, cax = fig.axes
    assert not ax.zaxis.get_tightbbox(r).overlaps(cax.get_tightbbox(r))


def test_fig3c_illustration_shares_one_rank_scale():
    from polyrank.experiments import fig3c

    fig = fig3c.plot_fig3c_illustration(levels=(2, None), widths=(4,), n=64, epochs=1)
    panels = fig.axes[2:4]
    bounds = [tuple(ax.collections[0].norm.boundaries) for ax in panels]
    assert len(set(bounds)) == 1 and bounds[0][-1] == 2.5  # ranks 0..2 of a 2-D input, in every panel
    assert len(fig.axes) == 2 * 2 + 1  # one colour bar for the row


def test_fig3c_dashed_line_is_reachable():
    from polyrank.experiments import fig3c

    rows = []
    for phase, base in (("before", 3.0), ("after", 2.0)):
        for net_id in range(3):
            rows.append(dict(experiment="fig3c", function="sphere", task="regression", condition="n=2",
                             network=net_id, input_dim=20, layer=1, width=10, phase=phase,
                             mean_codeword_size=base + net_id, mean_rank=base))
    fig = fig3c.plot_fig3c(pd.DataFrame(rows))
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and set(dashed[0].get_ydata()) == {10}
    assert "width 10 < d = 20" in dashed[0].get_label()

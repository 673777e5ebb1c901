"""The `polyrank enumerate` command (and the dispatcher)."""

import re

import pandas as pd
import pytest
import torch

import polyrank as pr
from polyrank.cli import main
from polyrank.train import mlp


def test_enumerate_prints_counts_that_match_the_api(capsys, tmp_path):
    csv = tmp_path / "regions.csv"
    png = tmp_path / "dec.png"
    rc = main(["enumerate", "--input-dim", "2", "--widths", "5,4", "--seed", "3", "--box", "2",
               "--method", "lp", "--csv", str(csv), "--plot", str(png)])
    assert rc == 0
    out = capsys.readouterr().out
    n = int(re.search(r"regions\s+(\d+)", out).group(1))
    net = pr.ReLUNetwork.from_torch(mlp(2, [5, 4], seed=3))
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")
    assert n == len(dec)
    df = pd.read_csv(csv)
    assert len(df) == n
    for K in (1, 2):
        hist = dec.rank_histogram(K)
        assert f"layer {K} (width {net.widths[K - 1]}): " + ", ".join(f"{r}: {c}" for r, c in hist.items()) in out
    assert png.exists() and png.stat().st_size > 1000


def test_enumerate_saved_model(tmp_path, capsys):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    path = tmp_path / "m.pt"
    torch.save(m, path)
    assert main(["enumerate", "--model", str(path), "--box", "1", "--method", "lp"]) == 0
    out = capsys.readouterr().out
    n = int(re.search(r"regions\s+(\d+)", out).group(1))
    assert n == len(pr.enumerate_regions(pr.ReLUNetwork.from_torch(m), pr.Box(-1, 1, dim=2), method="lp"))
    # a state_dict with the matching architecture works too
    torch.save(m[:2].state_dict(), tmp_path / "sd.pt")
    assert main(["enumerate", "--model", str(tmp_path / "sd.pt"), "--input-dim", "2", "--widths", "3",
                 "--box", "1", "--method", "lp"]) == 0


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["enumerate", "--widths", "a,b"])
    with pytest.raises(SystemExit, match="no such model file"):
        main(["enumerate", "--model", str(tmp_path / "missing.pt")])
    assert main(["reproduce", "fig99"]) == 2
    assert "unknown figure" in capsys.readouterr().err
    assert main([]) == 0


def test_enumerate_out_writes_a_region_store(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "regions.parquet"
    args = ["enumerate", "--input-dim", "2", "--widths", "5,4", "--seed", "3", "--box", "2", "--out", str(out)]
    assert main(args + ["--tiles", "3,2"]) == 0
    text = capsys.readouterr().out
    n = int(re.search(r"regions\s+(\d+)", text).group(1))
    net = pr.ReLUNetwork.from_torch(mlp(2, [5, 4], seed=3))
    dec = pr.enumerate_regions(net, pr.Box(-2, 2, dim=2), method="lp")
    assert n == len(dec) == pr.read_regions(out).n_regions
    assert "layer 2 (width 4): " + ", ".join(f"{r}: {c}" for r, c in dec.rank_histogram(2).items()) in text
    with pytest.raises(SystemExit, match="not empty"):
        main(args)
    assert main(args + ["--tiles", "2", "--overwrite"]) == 0
    with pytest.raises(SystemExit, match="bounded domain"):
        main(["enumerate", "--box", "0", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="--tiles"):
        main(args + ["--tiles", "many"])


def test_memory_type_parses_sizes():
    from polyrank._cliutil import memory_type

    for text, nbytes in [("4GiB", 4 * 2**30), ("512MiB", 512 * 2**20), ("1.5g", 3 * 2**29), ("2GB", 2 * 10**9),
                         ("3145728B", 3 * 2**20), (" 1 MiB ", 2**20), ("64kib", 2**16), ("1e3MB", 10**9),
                         ("2", 2 * 2**30), ("0.5", 2**29), ("1.5", 3 * 2**29)]:  # a plain number is GiB
        assert memory_type(text) == nbytes


def test_enumerate_out_max_memory_reaches_write_regions(tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    import polyrank.store as store_mod

    seen = []
    real = store_mod.write_regions

    def spy(*a, **kw):  # in this process (no pool to start)
        seen.append(kw["max_memory"])
        return real(*a, **{**kw, "n_workers": 1})

    monkeypatch.setattr(store_mod, "write_regions", spy)
    args = ["enumerate", "--input-dim", "2", "--widths", "16,16", "--seed", "3", "--box", "2"]
    net = pr.ReLUNetwork.from_torch(mlp(2, [16, 16], seed=3))
    n = len(pr.enumerate_regions(net, pr.Box(-2, 2, dim=2)))
    counts = {}
    for text, nbytes in [("1MiB", 2**20), ("4GiB", 4 * 2**30), ("4", 4 * 2**30)]:
        out = tmp_path / text
        assert main(args + ["--out", str(out), "--max-memory", text]) == 0
        assert seen[-1] == nbytes
        assert int(re.search(r"regions\s+(\d+)", capsys.readouterr().out).group(1)) == n
        counts[text] = pr.read_regions(out)._meta["n_tiles"]
    # the budget sizes the tiles of tiles="auto": 1 MiB holds fewer regions than the network has
    assert n * pr.BYTES_PER_REGION > 2**20
    assert counts["1MiB"] > 1 == counts["4GiB"] == counts["4"]
    main(args + ["--out", str(tmp_path / "default")])
    assert seen[-1] is None


@pytest.mark.parametrize("bad", ["lots", "4 parsecs", "1.5.2", "-2GiB", "0", "0.1B", "GiB", "4GiBs", "1e-12"])
def test_enumerate_bad_max_memory(bad, capsys):
    with pytest.raises(SystemExit):
        main(["enumerate", "--box", "1", "--out", "unused", "--max-memory", bad])
    err = capsys.readouterr().err
    assert "--max-memory" in err and "memory size like 4GiB" in err and repr(bad) in err


def test_enumerate_out_refuses_a_tile_budget_under_a_mib(tmp_path):
    for small in ("512KiB", "0.0001"):  # 0.0001 GiB: about 105 kB
        with pytest.raises(SystemExit, match="--max-memory.*at least 1048576 bytes.*plain number is GiB"):
            main(["enumerate", "--box", "1", "--out", str(tmp_path / "r"), "--max-memory", small])
    assert not (tmp_path / "r").exists()


def test_plain_max_memory_is_gib_in_enumerate_and_analyze(monkeypatch):
    import polyrank.cli as cli
    import polyrank.train as train

    def no_work(*a, **kw):  # pragma: no cover - the budget check comes first
        raise AssertionError("built a network over the budget")

    monkeypatch.setattr(train, "mlp", no_work)
    monkeypatch.setattr(cli, "_make_manifold", no_work)
    # a 2-4000-4000 network: 12 * 4000 * 4000 bytes ~ 0.18 GiB: over 0.1 GiB, under 1 GiB and 1 TiB
    args = ["enumerate", "--input-dim", "2", "--widths", "4000,4000", "--box", "1"]
    need = 12 * 4000 * 4000 / 2**30
    assert 0.1 < need < 1
    for small in ("0.1", "100MiB"):
        with pytest.raises(SystemExit, match="--max-memory 0.1 GiB"):
            main(args + ["--max-memory", small])
    # analyze: the same sizes against the same estimate
    a = ["analyze", "--resolution", "2000"]
    with pytest.raises(SystemExit) as e1:
        main(a + ["--max-memory", "0.5"])
    with pytest.raises(SystemExit) as e2:
        main(a + ["--max-memory", "512MiB"])
    assert "--max-memory 0.5 GiB" in str(e1.value) and str(e1.value) == str(e2.value)


@pytest.mark.parametrize("preset", [None, "ACTIVE"])
def test_command_sets_a_passive_omp_wait_policy_unless_the_user_did(preset):
    # in a fresh process (torch not loaded yet) the command defaults OMP_WAIT_POLICY to
    # CLI_OMP_WAIT_POLICY and keeps the user's own value
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    code = ("import os, sys\nfrom polyrank.cli import main\nassert 'torch' not in sys.modules\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('POLICY', os.environ.get('OMP_WAIT_POLICY'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    expect = preset or pr.cli.CLI_OMP_WAIT_POLICY
    assert f"POLICY {expect}" in out

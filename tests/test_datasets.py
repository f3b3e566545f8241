"""seqsal.datasets: the demo and the bundled motifs as package data, from a checkout and from a built wheel."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import seqsal
from seqsal import datasets
from seqsal.cli import main
from seqsal.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_demo_files_are_package_data_and_the_files_of_data_demo():
    files = datasets.demo()
    paths = files.as_dict()
    assert list(paths) == list(datasets.DEMO_FILES)
    package = Path(seqsal.__file__).resolve().parent / "data" / "demo"
    for key, path in paths.items():
        assert path.is_absolute() and path.is_file() and path.parent == package and path.name == datasets.DEMO_FILES[key]
        assert os.path.samefile(path, ROOT / "data" / "demo" / path.name)  # data/demo/ links to them
    assert files.genome.read_text().startswith(">chr1\n")
    assert len([line for line in files.regions.read_text().splitlines() if not line.startswith("track")]) == 356
    assert seqsal.load_model(files.model).task_names == ["activity"]
    assert datasets.bundled_motifs().name == "jaspar_subset.meme"


def test_missing_package_data_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "files", lambda package: tmp_path)
    with pytest.raises(InputError, match=r"package data demo/genome.fa is missing from this install of seqsal; reinstall"):
        datasets.demo()


def test_user_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQSAL_CACHE_DIR", str(tmp_path / "own"))
    assert datasets.user_cache_dir() == tmp_path / "own"
    monkeypatch.delenv("SEQSAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.user_cache_dir() == tmp_path / "xdg" / "seqsal"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.user_cache_dir() == Path.home() / ".cache" / "seqsal"


def test_cli_prints_the_paths():
    runner = CliRunner()
    listing = runner.invoke(main, ["datasets", "demo"])
    assert listing.exit_code == 0, listing.output
    rows = dict(line.split("\t") for line in listing.output.splitlines())
    assert rows == {key: str(path) for key, path in datasets.demo().as_dict().items()}
    one = runner.invoke(main, ["datasets", "demo", "model"])
    assert one.exit_code == 0 and one.output == f"{datasets.demo().model}\n"
    motifs = runner.invoke(main, ["datasets", "motifs"])
    assert motifs.exit_code == 0 and motifs.output == f"{datasets.bundled_motifs()}\n"
    assert runner.invoke(main, ["datasets", "genome"]).exit_code == 2


def test_the_wheel_carries_the_data(tmp_path):
    """`pip wheel .` packs the demo and the motif database with the same bytes (the files, not links to them);
    .ci/run installs that wheel into a fresh venv and runs the demo from it."""
    pytest.importorskip("setuptools")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                             "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("seqsal-*.whl")
    expected = {f"seqsal/data/demo/{name}": path for name, path in
                ((p.name, p) for p in datasets.demo().as_dict().values())}
    expected["seqsal/data/jaspar_subset.meme"] = datasets.bundled_motifs()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert not any(name.endswith((".fai", "make_demo.py")) for name in names)
        for name, path in expected.items():
            assert name in names, sorted(names)
            assert hashlib.sha256(archive.read(name)).digest() == hashlib.sha256(path.read_bytes()).digest(), name

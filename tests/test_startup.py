"""Start-up stays lean: the package and the CLI entry point import torch and pandas only when a command needs them."""
from __future__ import annotations

import subprocess
import sys

import seqsal

HEAVY = ("torch", "pandas", "pyBigWig", "pyfaidx", "tqdm", "matplotlib")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_import_and_version_do_not_import_heavy_modules():
    loaded = _modules_after(
        "import seqsal, seqsal.cli\n"
        "try:\n    seqsal.cli.main(['--version'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded & set(HEAVY), f"start-up imported {sorted(loaded & set(HEAVY))}"


def test_every_public_name_resolves():
    for name in seqsal.__all__:
        assert getattr(seqsal, name) is not None, name
    assert set(seqsal.__all__) <= set(dir(seqsal))


def test_submodules_resolve_lazily_and_unknown_names_fail():
    assert seqsal.simulate.random_sequence is not None
    try:
        seqsal.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")


def test_method_registry_is_complete_and_the_gradient_layer_does_not_import_it():
    names = ["deepshap", "gradcam", "ig", "ism", "saliency", "smoothgrad", "grad_x_input"]
    loaded = _modules_after(f"from seqsal.methods import METHODS\nassert sorted(METHODS) == {sorted(names)}, METHODS")
    assert "seqsal.methods.deeplift" in loaded
    below = _modules_after("import seqsal.attribution")
    assert not {"seqsal.methods", "seqsal.engine"} & below, sorted(below)



def test_a_run_never_imports_torch_dynamo(tmp_path):
    """The memory probe's dispatch mode imported torch._dynamo on entry (1.7 s of every `seqsal attribute` here);
    nothing in a run compiles, so nothing may pay for that import."""
    from seqsal.datasets import demo

    files = demo()
    regions = tmp_path / "regions.bed"
    regions.write_text("".join(files.regions.read_text().splitlines(keepends=True)[1:4]))
    loaded = _modules_after(
        "from seqsal.pipeline import run_attribute\n"
        f"run_attribute({str(files.genome)!r}, {str(regions)!r}, {str(files.model)!r}, {str(tmp_path / 'out')!r}, "
        "progress=False)"
    )
    assert (tmp_path / "out" / "run.json").exists()
    assert "torch" in loaded and "torch._dynamo" not in loaded

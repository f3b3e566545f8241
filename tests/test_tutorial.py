"""docs/tutorial.ipynb runs top to bottom (nbclient, a fresh kernel) in under a minute, with its figures inline."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"


def test_tutorial_runs_without_errors_in_under_a_minute(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "committed with outputs"
    started = time.perf_counter()
    NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                   ).execute()  # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - started
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 3  # the logo, the track plot of the top element, a motif's CWM and PWM
    tables = " ".join(output["data"].get("text/plain", "") for output in outputs if "data" in output)
    assert "FOS::JUN" in tables and "grad_x_input" in tables and "deletion_auc" in tables
    assert seconds < 60, f"the tutorial took {seconds:.0f} s"
    assert (tmp_path / "seqsal-tutorial" / "run" / "run.json").is_file()  # next to the notebook, not a leaked temp dir
    again = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(again, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                   ).execute()  # a rerun over its own outputs resumes

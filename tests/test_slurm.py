"""The SLURM profile for real: the demo workflow through ``--workflow-profile workflows/profiles/slurm`` in 3 shards,
every step a real ``sbatch`` job, and the merged folder holds the bytes of a single ``seqsal attribute`` run.

Needs a SLURM cluster that answers (``sinfo``); ``bash .ci/slurm`` starts a one-node cluster on localhost from
Debian's slurm-wlm and munge, runs this file against it and stops it again. Without a cluster the test skips, or
fails when ``SEQSAL_REQUIRE_SLURM=1`` (as .ci/slurm sets).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_workflow import COMPARED, DEMO, ROOT, _env, assert_same_run, snakemake_command

PROFILE = ROOT / "workflows" / "profiles" / "slurm"
SHARDS = 3
# A cluster without an accounting database (slurmdbd) has no `sacct` answers: the executor plugin reads the job
# states from squeue instead (it keeps finished jobs for MinJobAge seconds; .ci/slurm sets 600 s), and checks them
# every few seconds instead of its default 40 s. No account to charge.
EXECUTOR_OPTIONS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5",
                    "--slurm-no-account")
# signs auto (the default): the call_peaks step asks the model itself (seqlet_check.tsv); no check_seqlets step
RULES = {"attribute_shard": SHARDS, "merge": 1, "call_peaks": 1, "motifs": 1, "logos": 1, "audit": 1, "report": 1}


def cluster_state() -> str:
    """The state of the cluster's nodes as ``sinfo`` reports them (``idle``, ``mixed``, ...), or why there is none."""
    if shutil.which("sinfo") is None:
        return "no sinfo on the PATH (slurm-client not installed)"
    try:
        result = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["sinfo failed"])[-1]
    return result.stdout.strip()


@pytest.fixture(scope="module")
def cluster() -> str:
    state = cluster_state()
    if state not in ("idle", "mixed", "allocated"):
        message = f"no SLURM cluster answers ({state}); bash .ci/slurm starts one and runs this test"
        if os.environ.get("SEQSAL_REQUIRE_SLURM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return state


def job_states(job_ids: list[str]) -> dict[str, str]:
    """SLURM job id -> state, from squeue (finished jobs stay listed for the cluster's MinJobAge)."""
    result = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T", "--jobs", ",".join(job_ids)],
                            capture_output=True, text=True, timeout=60, check=True)
    return dict(line.split("|") for line in result.stdout.split())


def test_demo_workflow_through_slurm_jobs_gives_the_single_run(cluster, tmp_path):
    # what a GPU cluster's config asks for each attribution job (README; the profile sets no job resources)
    resources = tmp_path / "resources.yaml"
    resources.write_text("attribute_resources: {threads: 4, mem_mb: 16000, gpu: 1, runtime: 240}\n")
    command = snakemake_command(tmp_path, DEMO / "regions.bed", f"shards={SHARDS}", "--configfile", str(resources),
                                "--workflow-profile", str(PROFILE), *EXECUTOR_OPTIONS)
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=1500)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    out = tmp_path / "out"
    assert (out / "report.html").stat().st_size > 0

    # every step but the local target `all` ran as its own SLURM job, and SLURM says each one completed
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", log)
    assert len(submitted) == sum(RULES.values()), log[-5000:]
    states = job_states(submitted)
    assert states == {job: "COMPLETED" for job in submitted}, states
    for rule, count in RULES.items():
        assert len(re.findall(rf"^rule {rule}:", log, re.M)) == count, (rule, log[-5000:])

    single = tmp_path / "single"
    run = subprocess.run(["seqsal", "attribute", str(DEMO / "genome.fa"), str(DEMO / "regions.bed"), "--model",
                          str(DEMO / "model.safetensors"), "-o", str(single), "-q"],
                         capture_output=True, text=True, env={**_env(), "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"},
                         timeout=600)  # the shards' thread count: a kernel's sums are ordered by it (README)
    assert run.returncode == 0, run.stderr
    assert_same_run(out, single, COMPARED)
    assert (out / "seqlet_check.tsv").stat().st_size > 0  # the call_peaks step's own check (signs auto)
    for i in range(1, SHARDS + 1):
        assert "seqsal: " in (out / "logs" / "attribute" / f"{i}-of-{SHARDS}.log").read_text()

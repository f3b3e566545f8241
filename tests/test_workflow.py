"""The Snakemake workflow (workflows/): run for real on a subset of the demo, sharded, against a single run."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import assert_same_file

import snakemake as snakemake_package  # noqa: F401 - a test dependency: the workflow tests must run, not skip

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
SNAKEFILE = ROOT / "workflows" / "Snakefile"
CONFIG = ROOT / "workflows" / "config.yaml"
COMPARED = ("attributions.npz", "attributions.bw", "regions.tsv", "null.npz", "seqlets.bed", "seqlets.tsv",
            "elements.bed", "elements.tsv")
PEAKS = ("out/elements.bed",)  # target: the workflow up to the peak calls (motifs, logos and report take minutes)
MERGED = ("out/run.json",)  # target: up to the merged tracks
N_REGIONS = 90


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the `seqsal` of this env
    return env


def snakemake_command(workdir: Path, regions: Path, *extra: str, targets: tuple[str, ...] = ()) -> list[str]:
    return [sys.executable, "-m", "snakemake", *targets, "-s", str(SNAKEFILE), "--configfile", str(CONFIG),
            "--directory", str(workdir), "--config", f"genome={DEMO / 'genome.fa'}", f"regions={regions}",
            f"model={DEMO / 'model.safetensors'}", f"motif_database={ROOT / 'data' / 'motifs' / 'jaspar_subset.meme'}",
            "outdir=out", *extra]


def snakemake(workdir: Path, regions: Path, *extra: str, targets: tuple[str, ...] = (),
              check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(snakemake_command(workdir, regions, *extra, targets=targets), capture_output=True,
                            text=True, env=_env(), timeout=300)
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def demo_subset(tmp_path_factory) -> Path:
    """The first N_REGIONS regions of the demo (both strands, a region past the chromosome end is not among them)."""
    path = tmp_path_factory.mktemp("regions") / "regions.bed"
    lines = [line for line in (DEMO / "regions.bed").read_text().splitlines() if not line.startswith("track")]
    path.write_text("\n".join(lines[:N_REGIONS]) + "\n")
    return path


@pytest.fixture(scope="module")
def single_run(demo_subset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    command = ["seqsal", "attribute", str(DEMO / "genome.fa"), str(demo_subset), "--model",
               str(DEMO / "model.safetensors"), "-o", str(out), "-q"]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def assert_same_run(merged: Path, single: Path, names: tuple[str, ...] = COMPARED) -> None:
    """Same bytes in ``merged`` as in ``single`` for every file of ``names`` (all of them present in both), but for
    the shuffled copies' predictions in ``null.npz`` (:func:`helpers.assert_same_file`)."""
    for name in names:
        assert_same_file(merged / name, single / name)


def test_three_shards_give_the_single_run(tmp_path, demo_subset, single_run):
    snakemake(tmp_path, demo_subset, "shards=3", "-c", "2", targets=PEAKS)
    out = tmp_path / "out"
    assert_same_run(out, single_run)
    for i in (1, 2, 3):
        log = (out / "logs" / "attribute" / f"{i}-of-3.log").read_text()
        assert "seqsal: " in log and "\r" not in log, log  # the step's info lines, no progress bar
        assert (out / "benchmarks" / "attribute" / f"{i}-of-3.tsv").read_text().startswith("s\t")
    assert (out / "logs" / "merge.log").exists() and (out / "logs" / "call_peaks.log").exists()
    # a second invocation finds nothing to do
    again = snakemake(tmp_path, demo_subset, "shards=3", "-c", "2", targets=PEAKS)
    assert "Nothing to be done" in again.stdout + again.stderr
    # the same results folder with the Laplace null: every shard reruns (fresh7: each refused the earlier run's
    # null.npz, which Snakemake had not removed), and the merged run holds no null of the earlier run
    # a shard folder of an earlier run with another shard count is removed once the shards are merged (fresh12)
    stale = out / "shards" / "1-of-5"
    stale.mkdir()
    (stale / "run.json").write_text("{}")
    stale_logs = [out / "logs" / "attribute" / "1-of-5.log", out / "benchmarks" / "attribute" / "1-of-5.tsv"]
    for path in stale_logs:  # and its log and benchmark (fresh24b)
        path.write_text("s\n")
    snakemake(tmp_path, demo_subset, "shards=3", "peak_null=laplace", "-c", "2", targets=PEAKS)
    assert not stale.exists() and sorted(p.name for p in (out / "shards").iterdir()) == ["1-of-3", "2-of-3", "3-of-3"]
    assert "removed" in (out / "logs" / "merge.log").read_text() and not any(p.exists() for p in stale_logs)
    assert (out / "logs" / "attribute" / "3-of-3.log").exists() and (out / "benchmarks" / "attribute" / "3-of-3.tsv"
                                                                     ).exists()
    assert not (out / "null.npz").exists()
    assert json.loads((out / "run.json").read_text())["peaks"]["null"] == "laplace"


def test_interrupted_run_redoes_only_unfinished_shards(tmp_path, demo_subset, single_run):
    process = subprocess.Popen(snakemake_command(tmp_path, demo_subset, "shards=2", "-c", "1", targets=MERGED),
                               env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    shards = tmp_path / "out" / "shards"
    first = None
    deadline = time.monotonic() + 240
    try:
        while first is None and time.monotonic() < deadline and process.poll() is None:
            done = sorted(shards.glob("*-of-2/run.json")) if shards.exists() else []
            started = list((tmp_path / "out" / "logs" / "attribute").glob("*.log"))
            # snakemake has booked the first shard as done once it has started the next one
            first = done[0] if done and len(started) > len(done) else None
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: snakemake and its running job
        process.wait(timeout=60)
    assert first is not None, "no shard finished"
    assert not (tmp_path / "out" / "run.json").exists(), "the run finished before it could be interrupted"
    stamp = first.stat().st_mtime_ns
    result = snakemake(tmp_path, demo_subset, "shards=2", "-c", "2", "--rerun-incomplete", targets=MERGED)
    log = result.stdout + result.stderr
    rerun = {line.split("wildcards:")[1].strip() for line in log.splitlines() if "wildcards:" in line}
    finished = first.parent.name.split("-of-")[0]
    assert rerun == {f"i={3 - int(finished)}, n=2"}, log[-3000:]
    assert first.stat().st_mtime_ns == stamp
    assert_same_run(tmp_path / "out", single_run, COMPARED[:4])


def test_a_shard_checkpoint_of_other_options_is_started_over(tmp_path, demo_subset, single_run):
    """fresh12: killed, then rerun with another option, every shard refused its checkpoint (--resume of other
    parameters) and the workflow was stuck until .partial was removed by hand. The shard now starts over."""
    from seqsal.pipeline import AttributeOptions, run_attribute
    from tests.test_reliability import dying_checkpoint

    class Stop(Exception):
        pass

    folder = tmp_path / "out" / "shards" / "1-of-1"
    with dying_checkpoint(Stop), pytest.raises(Stop):
        run_attribute(str(DEMO / "genome.fa"), str(demo_subset), str(DEMO / "model.safetensors"), str(folder),
                      AttributeOptions(method="saliency", chunk_size=8), progress=False, shard=(1, 1))
    assert (folder / ".partial" / "progress.json").exists()
    snakemake(tmp_path, demo_subset, "shards=1", "-c", "1", targets=MERGED)
    log = (tmp_path / "out" / "logs" / "attribute" / "1-of-1.log").read_text()
    assert "changed since: --method" in log and "starting this shard over" in log
    assert_same_run(tmp_path / "out", single_run, COMPARED[:4])


def test_slurm_profile_dry_run(tmp_path, demo_subset):
    """The attribution jobs ask for the config's attribute_resources, also when the README's command adds a
    partition with --set-resources (fresh12: that replaced the profile's block, dropping the GPU and memory)."""
    resources = tmp_path / "resources.yaml"
    resources.write_text("attribute_resources: {threads: 4, mem_mb: 16000, gpu: 1, runtime: 240}\n")
    result = snakemake(tmp_path, demo_subset, "shards=4", "--configfile", str(resources), "--workflow-profile",
                       str(ROOT / "workflows" / "profiles" / "slurm"), "--default-resources", "slurm_account=lab",
                       "--set-resources", "attribute_shard:slurm_partition=gpu", "--cores", "8", "-n")
    log = result.stdout + result.stderr
    assert "attribute_shard        4" in log and "This was a dry-run" in log
    assert all(f"{rule} " in log for rule in ("merge", "call_peaks", "motifs", "logos", "report"))
    shard_jobs = [block for block in log.split("rule ")[1:] if block.startswith("attribute_shard")]
    assert len(shard_jobs) == 4
    for block in shard_jobs:
        assert all(word in block for word in ("gpu=1", "mem_mb=16000", "runtime=240", "slurm_partition=gpu",
                                              "OMP_NUM_THREADS=4")), block
    # without --set-resources: the config's resources, not a profile's (which overrode them: a CPU cluster's gpu: 0
    # still asked for a GPU, 64 GB became 16 GB)
    resources.write_text("attribute_resources: {threads: 2, mem_mb: 64000, gpu: 0, runtime: 600}\n")
    result = snakemake(tmp_path, demo_subset, "shards=2", "--configfile", str(resources), "--workflow-profile",
                       str(ROOT / "workflows" / "profiles" / "slurm"), "--cores", "8", "-n")
    shard_jobs = [block for block in (result.stdout + result.stderr).split("rule ")[1:]
                  if block.startswith("attribute_shard")]
    assert len(shard_jobs) == 2 and all(all(word in block for word in (
        "gpu=0", "mem_mb=64000", "runtime=600", "OMP_NUM_THREADS=2")) for block in shard_jobs), shard_jobs
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("override, field", [("shards=0", "shards"), ("modle=x.pt", "modle"), ("seed=-1", "seed"),
                                             ("peak_test_widths=6,40", "peak_test_widths"), ("signs=up", "signs")])
def test_wrong_config_fails_before_any_job_naming_the_field(tmp_path, demo_subset, override, field):
    result = snakemake(tmp_path, demo_subset, override, "-c", "1", check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert ("Error validating config" in log or "WorkflowError" in log and "config: " in log) and field in log
    assert not (tmp_path / "out").exists()


def test_more_shards_than_regions_fail_before_any_job(tmp_path, demo_subset):
    """Was found only when shard 91's job ran (on SLURM: after the other 90 were queued)."""
    result = snakemake(tmp_path, demo_subset, f"shards={N_REGIONS + 1}", "-c", "1", check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0 and f"shards is {N_REGIONS + 1}" in log and f"at most {N_REGIONS}" in log
    assert not (tmp_path / "out").exists()


def test_config_options_reach_the_commands(tmp_path, demo_subset):
    """Method parameters, stitching, gradient correction, the model's input layout, unknown bases and
    --allow-incomplete (absent from the config until fresh12 noticed) and the caller's geometry travel from the
    config to the `seqsal` command lines (dry run, commands printed)."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.read_text() + "method: ig\nmethod_params: {steps: 8, baseline: shuffle, references: 3}\n"
                      "stitch: centre\ncorrect: false\nn_value: 0.25\npeak_test_widths: '8'\nmin_seqlets: 10\n"
                      "top_logos: 7\nreport_top: 5\ncheck_seqlets: 33\nlayout: nlc\nunknown_bases: n\n"
                      "allow_incomplete: true\nmax_null_copies: 20\nsigns: minus\n")
    command = snakemake_command(tmp_path, demo_subset, "shards=2", "-n", "-p")
    command[command.index(str(CONFIG))] = str(config)
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    attribute = [line for line in log.splitlines() if "seqsal attribute" in line]
    assert len(attribute) == 2
    for line in attribute:
        for words in ("--method ig", "--steps 8", "--baseline shuffle", "--references 3", "--stitch centre",
                      "--no-correct", "--n-value 0.25", "--layout nlc", "--unknown-bases n", "--allow-incomplete",
                      "--max-null-copies 20"):
            assert words in line, (words, line)
    assert "--test-widths 8 --max-length 30 --element-gap 100" in log
    assert "--signs=- " in log  # fresh31b: `signs=-` cannot be given on snakemake's command line; the word can
    assert "--min-seqlets 10 --seqlet-fdr 0.9" in log and "--top 7" in log and "--top 5" in log
    assert "seqsal check-seqlets" in log and "--max-seqlets 33" in log
    assert not (tmp_path / "out").exists()


def test_the_model_config_is_an_input_of_the_shards(tmp_path, demo_subset):
    """fresh12: editing the model_config file reran nothing (run.json kept the old task names); a missing one is
    now refused before any job."""
    architecture = tmp_path / "arch.json"
    extra = ("architecture=basset", f"model_config={architecture}", "shards=2", "-n")
    missing = snakemake(tmp_path, demo_subset, *extra, check=False)
    assert missing.returncode != 0 and "arch.json" in missing.stdout + missing.stderr
    architecture.write_text("{}")
    log = snakemake(tmp_path, demo_subset, *extra)
    shard_jobs = [block for block in (log.stdout + log.stderr).split("rule ")[1:] if block.startswith("attribute_shard")]
    assert len(shard_jobs) == 2 and all(str(architecture) in block.split("output:")[0] for block in shard_jobs)
    assert not (tmp_path / "out").exists()


def test_a_users_architecture_file_is_accepted_and_an_input_of_the_shards(tmp_path, demo_subset):
    """fresh25: the schema allowed only basset/bpnet, so a state_dict with the lab's own `arch.py:Net` could not
    run through the workflow (a multi-line jsonschema dump); now the file is taken, and is an input of the shards."""
    architecture = tmp_path / "arch.py"
    architecture.write_text("import torch\n")
    log = snakemake(tmp_path, demo_subset, f"architecture={architecture}:Net", "shards=2", "-n", "-p")
    text = log.stdout + log.stderr
    shard_jobs = [block for block in text.split("rule ")[1:] if block.startswith("attribute_shard")]
    assert len(shard_jobs) == 2 and all(str(architecture) in block.split("output:")[0] for block in shard_jobs)
    assert f"--architecture {architecture}:Net" in text
    wrong = snakemake(tmp_path, demo_subset, "architecture=resnet", "shards=2", "-n", check=False)
    assert wrong.returncode != 0 and "architecture" in wrong.stdout + wrong.stderr
    assert not (tmp_path / "out").exists()


def test_conda_env_lists_every_dependency_of_the_package():
    """The workflow's conda env installs seqsal with --no-deps, so it must name each of pyproject's dependencies."""
    import yaml

    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    requirements = re.findall(r'^\s*"([^"]+)"', block, re.M)
    assert len(requirements) >= 10
    env = yaml.safe_load((ROOT / "workflows" / "envs" / "seqsal.yaml").read_text())
    conda = {str(item).split()[0].lower() for item in env["dependencies"] if isinstance(item, str)}
    renamed = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
    for requirement in requirements:
        name = re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0].lower()
        assert renamed.get(name, name) in conda, f"{name} is a dependency but not in workflows/envs/seqsal.yaml"

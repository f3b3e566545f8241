"""``seqsal attribute --resume`` says what *this* invocation did: nothing, for a finished run (not the earlier
run's seconds as its own), or the regions it attributed and its own time, for an interrupted one."""
from __future__ import annotations

import json

from seqsal.text import nothing_to_resume, run_summary
from tests.test_reliability import _interrupted_run, invoke, make_job


def test_the_summary_line_tells_this_invocations_work():
    assert run_summary(1200, 0, 8.46, "run") == "1,200 regions attributed in 8.5 s -> run"
    assert run_summary(1200, 800, 3.14, "run") == ("resumed: 400 of 1,200 regions attributed in 3.1 s (800 done "
                                                   "before) -> run")
    assert run_summary(3, 3, 0.5, "run") == ("resumed with all 3 regions attributed before: the final files written in "
                                             "0.5 s -> run")
    assert nothing_to_resume("run", 1) == "nothing to resume: run is complete (1 region)"


def test_resume_of_a_finished_run_does_not_report_its_old_timing(tmp_path):
    job = make_job(tmp_path / "job")
    args = [a for a in job.args(extra=["--no-peaks"]) if a != "-q"]
    first = invoke(args)
    assert first.exit_code == 0 and "2 regions attributed in" in first.output
    record = json.loads((job.out / "run.json").read_text())
    record["timing_seconds"]["total"] = 4321.0  # an earlier run's seconds: must not show as this invocation's
    (job.out / "run.json").write_text(json.dumps(record))
    again = invoke([*args, "--resume"])
    assert again.exit_code == 0
    assert f"nothing to resume: {job.out} is complete (2 regions)" in again.output
    assert "attributed in" not in again.output and "4321" not in again.output


def test_a_resume_reports_the_regions_it_attributed_and_records_where_it_started(tmp_path):
    job = make_job(tmp_path / "job")
    _interrupted_run(job)  # the checkpoint holds 1 of the 2 regions
    result = invoke([a for a in job.args(extra=["--resume"]) if a != "-q"])
    assert result.exit_code == 0, result.output
    assert "resumed: 1 of 2 regions attributed in " in result.output and "(1 done before) -> " in result.output
    record = json.loads((job.out / "run.json").read_text())
    assert record["resumed_from"] == 1
    fresh = invoke(job.args(extra=["--force"]))
    assert fresh.exit_code == 0 and "resumed_from" not in json.loads((job.out / "run.json").read_text())


def test_a_resume_asking_other_fdr_levels_says_the_calls_were_kept(tmp_path):
    """review30: `--resume --fdr 0.1 --element-fdr 0.1` on a finished run said "nothing to resume" and kept the
    calls made at 0.2 / 0.05 without a word."""
    job = make_job(tmp_path / "job")
    args = [a for a in job.args() if a != "-q"]
    assert invoke(args).exit_code == 0
    again = invoke([*args, "--resume", "--fdr", "0.1", "--element-fdr", "0.1"])
    assert again.exit_code == 0 and "nothing to resume" in again.output
    assert "were made at FDR 0.2 (elements 0.05), not at the 0.1 (elements 0.1) asked" in again.output
    assert f"seqsal call-peaks {job.out} --fdr 0.1 --element-fdr 0.1" in again.output
    same = invoke([*args, "--resume"])
    assert same.exit_code == 0 and "were made at FDR" not in same.output
    signs = invoke([*args, "--resume", "--signs", "-"])  # fresh31b: another sign asked was kept without a word
    assert signs.exit_code == 0 and "were made for signs +-, not the - asked" in signs.output
    assert f"seqsal call-peaks {job.out} --signs -" in signs.output
    assert "were made for signs" not in invoke([*args, "--resume"]).output

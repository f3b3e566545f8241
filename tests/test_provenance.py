"""seqsal.provenance: every derived file of a run folder records what it was derived from; what no longer matches
is removed by the writers and left out by the readers (issue 15, item 10)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from seqsal import provenance
from seqsal.cli import main
from seqsal.io import write_npz
from seqsal.peaks import unique_calls
from seqsal.provenance import ATTRIBUTIONS, GROUPS, attribution_key, prune, sampled_digest, status, write_record
from tests.conftest import fail_table_writes, write_bed

ROOT = Path(__file__).resolve().parents[1]

ATTRIBUTE_OUTPUTS = {"attributions.bw", "attributions.npz", "elements.bed", "elements.tsv", "null.npz", "regions.tsv",
                     "run.json", "seqlets.bed", "seqlets.tsv"}


def _folder(path, seed=0):
    """The attribution files of a run folder (no model: random arrays)."""
    path.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = np.array([50, 60])
    write_npz(path / "attributions.npz", {"one_hot": rng.random((2, 4, 60), dtype=np.float32),
                                          "hypothetical": rng.random((2, 4, 60), dtype=np.float32),
                                          "length": lengths})
    pd.DataFrame({"index": [0, 1], "name": ["a", "b"], "chrom": "chr1", "start": [0, 100], "end": [50, 160],
                  "prediction": rng.random(2)}).to_csv(path / "regions.tsv", sep="\t", index=False)
    return path


def _write(path, names):
    for name in names:
        if "." in name:
            (path / name).write_text(f"{name}\n")
        else:
            (path / name).mkdir(exist_ok=True)
            (path / name / "x.png").write_bytes(b"png")


def test_attribution_key_follows_the_contents_not_the_path(tmp_path):
    a = _folder(tmp_path / "a")
    copy = tmp_path / "copy"
    shutil.copytree(a, copy)
    assert attribution_key(a) == attribution_key(copy) != ""
    other = _folder(tmp_path / "b", seed=1)
    assert attribution_key(other) != attribution_key(a)
    (copy / "regions.tsv").write_text((copy / "regions.tsv").read_text().replace("\ta\t", "\tA\t"))
    assert attribution_key(copy) != attribution_key(a)
    assert attribution_key(tmp_path / "empty") == ""


def test_sampled_digest_reads_a_sample_of_a_large_file_and_sees_a_change_in_it(tmp_path):
    path = tmp_path / "big.bin"
    data = bytearray(np.random.default_rng(0).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes())
    path.write_bytes(bytes(data))
    before = sampled_digest(path)
    data[(1 << 20) + 5] ^= 1  # in the first sampled block after the first MiB
    path.write_bytes(bytes(data))
    assert sampled_digest(path) != before
    data[-3] ^= 1  # in the last MiB
    changed = sampled_digest(path)
    path.write_bytes(bytes(data))
    assert sampled_digest(path) != changed
    assert sampled_digest(tmp_path / "none") == ""


def test_status_and_prune_follow_the_records(tmp_path):
    folder = _folder(tmp_path)
    _write(folder, ["motifs.tsv", "motifs.npz", "logos", "audit.tsv"])
    write_record(folder, "motifs")
    write_record(folder, "logos")
    assert status(folder, "motifs") == status(folder, "logos") == "current"
    assert status(folder, "audit") == "unrecorded" and status(folder, "evaluation") == "absent"
    assert json.loads((folder / "provenance" / "motifs.json").read_text())["derived_from"] == {
        ATTRIBUTIONS: attribution_key(folder)}
    (folder / "motifs.tsv").write_text("edited\n")  # a group's own files changed since it was written
    assert status(folder, "motifs") == "stale" and status(folder, "logos") == "stale"  # the logos drew them
    write_record(folder, "motifs")
    write_record(folder, "logos")
    # another run's attributions in the folder: everything derived from the old ones goes, unrecorded files too
    _folder(folder, seed=3)
    assert status(folder, "motifs") == "stale" and "attributions" in provenance.stale_text(folder, "motifs")
    removed = prune(folder, ATTRIBUTIONS)
    assert set(removed) == {"motifs.tsv", "motifs.npz", "logos/", "audit.tsv"}
    assert not (folder / "provenance").exists()
    assert {p.name for p in folder.iterdir()} == {"attributions.npz", "regions.tsv"}


def test_prune_after_a_group_keeps_what_does_not_derive_from_it(tmp_path):
    folder = _folder(tmp_path)
    _write(folder, ["seqlets.tsv", "elements.tsv", "evaluation.tsv", "report.html"])  # unrecorded (older seqsal)
    assert prune(folder, "motifs") == ["report.html"]  # the report shows motifs; calls and evaluation do not
    assert (folder / "seqlets.tsv").exists() and (folder / "evaluation.tsv").exists()
    # calls recorded, then half of them lost (a partial copy): stale, yet not the motifs writer's to delete
    (folder / "run.json").write_text(json.dumps({"peaks": {"provenance": write_record(folder, "calls")}}))
    assert status(folder, "calls") == "current"
    (folder / "elements.tsv").unlink()
    assert status(folder, "calls") == "stale"
    assert prune(folder, "motifs") == [] and (folder / "seqlets.tsv").exists()
    assert prune(folder, "evaluation") == [] and (folder / "seqlets.tsv").exists()


def test_the_audit_derives_from_the_evaluation_it_read(tmp_path):
    """Check 5 of the audit reads evaluation_curves.tsv: a new evaluation makes the audit stale and removes it."""
    folder = _folder(tmp_path)
    _write(folder, ["evaluation.tsv", "evaluation_curves.tsv", "audit.tsv"])
    write_record(folder, "evaluation")
    write_record(folder, "audit")
    assert status(folder, "audit") == "current"
    (folder / "evaluation_curves.tsv").write_text("another evaluation\n")
    write_record(folder, "evaluation")
    assert status(folder, "audit") == "stale"
    assert prune(folder, "evaluation") == ["audit.tsv"]


def test_groups_name_the_files_their_writers_write():
    from seqsal.audit import AUDIT_FOLDER, AUDIT_TABLE
    from seqsal.peaks.options import PEAK_FILES
    from seqsal.report_tables import EVALUATION_TABLES

    assert set(GROUPS["calls"].outputs) == set(PEAK_FILES)
    assert set(GROUPS["evaluation"].outputs) == {*EVALUATION_TABLES, "evaluation"}
    assert set(GROUPS["audit"].outputs) == {AUDIT_TABLE, AUDIT_FOLDER}
    names = list(GROUPS)
    for index, name in enumerate(names):  # a group only derives from groups above it
        assert all(source == ATTRIBUTIONS or names.index(source) < index for source in GROUPS[name].sources)


def test_report_leaves_out_motifs_of_other_attributions_with_a_note(tmp_path):
    from seqsal.motifs import read_meme
    from seqsal.report import build_report
    from tests.motif_helpers import JASPAR
    from tests.test_report import make_run

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)})
    result = CliRunner().invoke(main, ["motifs", str(out), "--min-seqlets", "15", "--seqlets", str(out / "seqlets.tsv"),
                                       "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = build_report(out, top=2)
    assert "<h2>Motifs (3)</h2>" in text and "Left out" not in text
    assert "seqlets.tsv: no provenance record" in text  # the hand-written calls: shown, said to be unchecked
    # the attributions change under the motifs (as after `attribute --force` by a seqsal that left them)
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    regions.assign(prediction=regions["prediction"] + 1).to_csv(out / "regions.tsv", sep="\t", index=False)
    text = build_report(out, top=2)
    assert "<h2>Motifs (3)</h2>" not in text and "Spi1" not in text and 'href="motifs.meme"' not in text
    note = text[text.index("Left out"):]
    assert "motifs.meme, motifs.tsv: derived from attributions other than those in this folder" in note
    assert "rerun <code>seqsal motifs</code>" in note


@pytest.fixture()
def job(tmp_path):
    """The bundled demo's genome and model on 12 of its regions."""
    demo = ROOT / "data" / "demo"
    lines = [line for line in (demo / "regions.bed").read_text().splitlines() if not line.startswith("track")]
    bed = write_bed(tmp_path / "regions.bed", lines[:12])
    return [str(demo / "genome.fa"), str(bed), "--model", str(demo / "model.safetensors")]


def _invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _current(out):
    """Every derived group in the folder is recorded and matches it."""
    states = {name: status(out, name) for name in GROUPS}
    return {name: state for name, state in states.items() if state != "absent"}


def test_force_and_recall_leave_no_file_of_another_run(job, tmp_path):
    """Issue 15: attribute, motifs, logos, audit, report; then `attribute --force` with another method, and
    `call-peaks` with other settings. After each, no file of the folder describes a run other than the current one."""
    out = tmp_path / "out"
    _invoke("attribute", *job, "-o", out, "-q", "--method", "grad_x_input", "--null", "laplace")
    evaluate = ["evaluate", out, "--methods", "saliency", "--max-regions", "2"]
    for args in (["motifs", out, "--min-seqlets", "8", "--database", "none"], ["logos", out, "--top", "2"],
                 evaluate, [*evaluate, "--no-sanity"], ["check-seqlets", out, "--max-seqlets", "5", "--draws", "2"],
                 ["audit", out, "--no-model"], ["report", out, "--top", "2"]):
        _invoke(*args, "-q")
    assert _current(out) == {name: "current" for name in GROUPS}
    # a new seqlet check removes the report drawn before it (the report shows the check); drawn again
    _invoke("check-seqlets", out, "--max-seqlets", "5", "--draws", "3", "-q")
    assert not (out / "report.html").exists()
    # the second evaluation (no sanity check) left none of the first one's sanity table and plot beside it
    assert not (out / "evaluation_sanity.tsv").exists() and not (out / "evaluation" / "sanity.png").exists()
    old_key = attribution_key(out)
    kept = tmp_path / "grad_x_input_motifs"
    kept.mkdir()
    for name in ("motifs.tsv", "motifs.npz", "motifs.meme", "motif_instances.tsv", "provenance/motifs.json"):
        shutil.copy(out / name, kept / Path(name).name)

    _invoke("attribute", *job, "-o", out, "-q", "--method", "ig", "--steps", "8", "--null", "laplace", "--force",
            "--signs", "+-")  # both signs unasked: no seqlet check of the new calls (its own test: test_seqlet_check)
    assert attribution_key(out) != old_key
    # motifs, logos, evaluation, audit and report of the grad x input run are gone
    assert {p.name for p in out.iterdir()} == ATTRIBUTE_OUTPUTS - {"null.npz"}
    assert _current(out) == {"calls": "current"}

    # the old motifs copied back by hand: the audit and the report leave them out
    (out / "provenance").mkdir()
    for path in kept.iterdir():
        shutil.copy(path, out / ("provenance" if path.suffix == ".json" else "") / path.name)
    assert status(out, "motifs") == "stale"
    _invoke("audit", out, "--no-model", "-q")
    audit = pd.read_csv(out / "audit.tsv", sep="\t", keep_default_na=False)
    assert "no motifs.tsv" in audit.set_index("check").loc["motif_position", "evidence"]
    _invoke("report", out, "--top", "2", "-q")
    text = (out / "report.html").read_text()
    assert "motifs.meme, motifs.tsv: derived from attributions other than" in text and "<h2>Motifs (" not in text
    for path in kept.iterdir():
        (out / ("provenance" if path.suffix == ".json" else "") / path.name).unlink()

    _invoke("motifs", out, "--min-seqlets", "8", "--database", "none", "--seqlets", out / "seqlets.tsv", "-q")
    _invoke("logos", out, "--top", "3", "-q")
    _invoke("report", out, "--top", "2", "-q")
    old_logos = sorted(p.name for p in (out / "logos" / "seqlets").iterdir())
    assert old_logos
    _invoke("call-peaks", out, "--fdr", "0.5", "--null", "laplace", "-q")
    # the logos (named by the old numbering), the report and the motifs clustered from the old seqlets.tsv are gone
    assert not (out / "logos").exists() and not (out / "report.html").exists() and not (out / "motifs.tsv").exists()
    assert _current(out) == {"calls": "current", "seqlet_check": "current"}  # --signs auto: the new calls' check
    _invoke("logos", out, "--top", "3", "-q")
    seqlets = pd.read_csv(out / "seqlets.tsv", sep="\t")
    drawn = {p.stem.split("_", 1)[1] for p in (out / "logos" / "seqlets").iterdir()}
    assert drawn <= set(seqlets["name"]) and len(drawn) == min(3, len(unique_calls(seqlets)))
    assert json.loads((out / "run.json").read_text())["peaks"]["provenance"]["derived_from"] == {
        ATTRIBUTIONS: attribution_key(out)}


def test_a_call_write_that_fails_part_way_leaves_the_calls_stale_not_mixed(tmp_path, monkeypatch):
    """A rerun of the calls whose seqlets.tsv cannot be written (a full disk): the BED files are the earlier run's
    still, or the TSVs changed (so the calls read as stale); never this run's BED beside the earlier TSVs."""
    import seqsal.peaks.runfolder as runfolder

    def calls(score: float) -> pd.DataFrame:
        return pd.DataFrame({"name": ["seqlet_1"], "chrom": ["chr1"], "start": [10], "end": [20], "sign": ["+"],
                             "score": [score], "pvalue": [1e-4], "qvalue": [1e-3], "summit": [15],
                             "duplicate_of": [pd.NA]})

    runfolder.write_peak_files(tmp_path, calls(1.0), calls(1.0))
    before = {name: (tmp_path / name).read_bytes() for name in ("seqlets.bed", "seqlets.tsv")}
    fail_table_writes(monkeypatch, runfolder, "seqlets.tsv")
    with pytest.raises(OSError):
        runfolder.write_peak_files(tmp_path, calls(2.0), calls(2.0))
    assert ((tmp_path / "seqlets.tsv").read_bytes() != before["seqlets.tsv"]
            or (tmp_path / "seqlets.bed").read_bytes() == before["seqlets.bed"])


def test_removing_a_group_keeps_the_users_own_files_in_its_folders(tmp_path):
    """logos/, evaluation/ and audit/ hold seqsal's figures; a file the user put there survives a prune (it was
    rmtree'd with the folder), the figures and interrupted writes' temporary files go, empty folders go."""
    folder = _folder(tmp_path)
    (folder / "logos" / "motifs").mkdir(parents=True)
    (folder / "logos" / "motifs" / "pos_1.png").write_bytes(b"png")
    (folder / "logos" / "motifs" / "pos_1.svg.tmp-99999999").write_bytes(b"half")
    (folder / "logos" / "regions").mkdir()
    (folder / "logos" / "regions" / "top0001_a.PDF").write_bytes(b"pdf")
    (folder / "logos" / "notes.txt").write_text("my notes\n")
    (folder / "logos" / ".snakemake_timestamp").write_text("")  # the workflow's marker of a folder output
    (folder / "audit").mkdir()
    (folder / "audit" / "positional_mass.png").write_bytes(b"png")
    write_record(folder, "logos")
    _folder(folder, seed=3)  # other attributions: the logos and the audit go
    assert set(prune(folder, ATTRIBUTIONS)) == {"logos/", "audit/"}
    assert [str(p.relative_to(folder)) for p in sorted((folder / "logos").rglob("*"))] == ["logos/notes.txt"]
    assert (folder / "logos" / "notes.txt").read_text() == "my notes\n" and not (folder / "audit").exists()


def test_a_group_written_before_its_source_existed_is_said_so():
    """fresh28: a first `seqsal evaluate` removed the audit as "derived from an evaluation other than those in this
    folder", where there had been none."""
    import tempfile
    from pathlib import Path

    folder = _folder(Path(tempfile.mkdtemp()))
    _write(folder, ["audit.tsv"])
    write_record(folder, "audit")  # no evaluation yet
    _write(folder, ["evaluation.tsv", "evaluation_curves.tsv"])
    write_record(folder, "evaluation")
    assert status(folder, "audit") == "stale"
    text = provenance.stale_text(folder, "audit")
    assert "written before this folder had an evaluation" in text and "other than" not in text
    (folder / "evaluation_curves.tsv").write_text("another evaluation\n")
    write_record(folder, "evaluation")
    write_record(folder, "audit")
    (folder / "evaluation_curves.tsv").write_text("a third\n")
    write_record(folder, "evaluation")
    assert "derived from an evaluation other than those in this folder" in provenance.stale_text(folder, "audit")

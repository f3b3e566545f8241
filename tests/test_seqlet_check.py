"""The replacement test of called seqlets (seqsal.seqlet_check)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from seqsal.attribution import Target
from seqsal.cli import main
from seqsal.encode import one_hot_encode, reverse_complement_one_hot
from seqsal.report import build_report
from seqsal.seqlet_check import check_seqlets, control_spans, replacement_changes, window_spans

ACTIVATOR, REPRESSOR = "GATAAG", "CCATGG"


class TwoMotifs(nn.Module):
    """Counts an activator word (+1 each) and a repressor word (-1 each): a model whose truth is known."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, len(ACTIVATOR), bias=False)
        with torch.no_grad():
            self.conv.weight[0] = torch.from_numpy(one_hot_encode(ACTIVATOR))
            self.conv.weight[1] = torch.from_numpy(one_hot_encode(REPRESSOR))

    def forward(self, x):
        hits = torch.relu(self.conv(x) - (len(ACTIVATOR) - 1))  # 1 at an exact match, else 0
        return (hits[:, 0].sum(-1) - hits[:, 1].sum(-1))[:, None]


def _world(seed=0, n=12, length=120):
    rng = np.random.default_rng(seed)
    seqs, seqlets = [], []
    for k in range(n):
        bases = list(rng.choice(list("ACGT"), length))
        bases[20:26], bases[70:76] = ACTIVATOR, REPRESSOR
        seqs.append("".join(bases))
        for name, a, sign in ((f"act{k}", 20, "+"), (f"rep{k}", 70, "-"), (f"wrong{k}", 20, "-"),
                              (f"noise{k}", 100, "+")):
            seqlets.append({"name": name, "region_index": k, "region_name": f"r{k}", "start": 1000 * k + a, "end": 1000 * k + a + 6,
                            "sign": sign, "score": 1.0, "qvalue": 0.01})
    x = np.stack([one_hot_encode(s) for s in seqs]).astype(np.float32)
    windows = pd.DataFrame({"region_index": range(n), "name": [f"r{k}" for k in range(n)], "chrom": "chr1",
                            "start": [1000 * k for k in range(n)], "end": [1000 * k + length for k in range(n)],
                            "strand": "+"})
    return x, windows, pd.DataFrame(seqlets)


def test_replacement_change_of_a_linear_model_is_its_expected_value():
    """For f(x) = sum w.x the change of replacing [a, b) by uniform bases has expectation
    sum_pos (mean_c w[c, pos] - w[x_pos, pos]); the mean of many draws converges to it."""
    torch.manual_seed(0)
    x = np.stack([one_hot_encode("".join(np.random.default_rng(1).choice(list("ACGT"), 50)))]).astype(np.float32)
    w = torch.randn(4, 50) - 6 * torch.from_numpy(x[0]) * torch.isin(torch.arange(50), torch.tensor([9, 10, 17, 18]))
    model = lambda x: (x * w).sum(dim=(1, 2))[:, None]  # noqa: E731  (a stretch shifted by one base is off by ~4)
    change = replacement_changes(model, x, np.array([[0, 10, 18]]), Target(), draws=4000, seed=3)
    wn = w.numpy()[:, 10:18]
    expected = (wn.mean(axis=0) - (wn * x[0][:, 10:18]).sum(axis=0)).sum()
    assert change[0] == pytest.approx(float(expected), abs=0.15)  # draw SD ~3: the mean of 4000 is within 0.05


def test_the_model_confirms_true_calls_and_refuses_wrong_signs_and_noise():
    x, windows, seqlets = _world()
    table = check_seqlets(TwoMotifs(), x, windows, seqlets, Target(), max_seqlets=1000, draws=16, seed=0)
    kind = table["name"].str.extract(r"^([a-z]+)")[0]
    confirmed = table.groupby(kind)["confirmed"].mean()
    assert confirmed["act"] == 1.0 and confirmed["rep"] == 1.0  # removing them moves the output as the sign says
    assert confirmed["wrong"] == 0.0  # a - call on an activator: its removal lowers the output
    assert confirmed["noise"] == 0.0  # random bases: no move beyond the controls'
    assert (table.loc[kind == "act", "change"] < 0).all() and (table.loc[kind == "rep", "change"] > 0).all()



def test_seqlets_in_no_window_or_none_asked_give_an_empty_table():
    """docs23: seqlets of which none lies whole in a model window were an IndexError (a modulo by zero)."""
    x, windows, seqlets = _world(n=2)
    outside = seqlets.assign(start=seqlets["start"] + 500, end=seqlets["end"] + 500)
    for table in (check_seqlets(TwoMotifs(), x, windows, outside, Target()),
                  check_seqlets(TwoMotifs(), x, windows, seqlets, Target(), max_seqlets=0)):
        assert table.empty and "confirmed" in table.columns

def test_minus_strand_windows_map_genomic_stretches_onto_the_reverse_complement():
    rng = np.random.default_rng(2)
    genome = "".join(rng.choice(list("ACGT"), 300))
    start, end = 50, 250
    x = reverse_complement_one_hot(torch.from_numpy(one_hot_encode(genome[start:end])[None])).numpy()
    windows = pd.DataFrame({"region_index": [0], "name": ["r"], "chrom": ["chr1"], "start": [start], "end": [end],
                            "strand": ["-"]})
    seqlets = pd.DataFrame({"region_index": [0], "region_name": ["r"], "start": [120], "end": [131]})
    (w, a, b), = window_spans(seqlets, windows)
    stretch = torch.from_numpy(x[w][None, :, a:b])
    assert np.array_equal(reverse_complement_one_hot(stretch).numpy()[0], one_hot_encode(genome[120:131]))


def test_regions_of_one_name_are_told_apart_by_their_row():
    """fresh26b: two peak files' ``peak1`` (other chromosomes): a seqlet was tested in the window of the region
    of its name with the most room, the other file's, and 19 of 20 verdicts flipped."""
    windows = pd.DataFrame({"region_index": [0, 1], "name": ["peak1", "peak1"], "chrom": ["chr1", "chr2"],
                            "start": [100, 50], "end": [300, 400], "strand": ["+", "+"]})
    seqlets = pd.DataFrame({"region_index": [0, 1], "region_name": ["peak1", "peak1"], "start": [150, 150],
                            "end": [160, 160]})
    assert window_spans(seqlets, windows).tolist() == [[0, 50, 60], [1, 100, 110]]


def test_controls_avoid_every_call_and_take_the_asked_lengths():
    x, windows, seqlets = _world()
    spans = window_spans(seqlets, windows)
    controls = control_spans(spans, np.full(40, 6), windows, spans, np.random.default_rng(0))
    assert len(controls) == 40 and ((controls[:, 2] - controls[:, 1]) == 6).all()
    for w, a, b in controls:
        mine = spans[spans[:, 0] == w]
        assert not ((mine[:, 1] < b) & (mine[:, 2] > a)).any()


class ThreeMotifs(TwoMotifs):
    """TwoMotifs plus a strong activator word nobody called: controls that hit it drop the output by 3."""

    def forward(self, x):
        word = torch.from_numpy(one_hot_encode("TTGACA"))
        extra = torch.relu(torch.nn.functional.conv1d(x, word[None]) - 5).sum(dim=(1, 2))
        return super().forward(x) + 3 * extra[:, None]


def test_each_sign_is_tested_against_the_controls_moving_its_own_way():
    """A - call is confirmed when its removal raises the output more than removing control stretches raises it;
    controls that hit an uncalled activator (a large drop) say nothing about rises. Compared with the controls'
    |change| instead, a third of the controls reach 3 and no repressor call is confirmed."""
    x, windows, seqlets = _world()
    for k in range(x.shape[0]):  # the uncalled word every 12 bases outside the called stretches
        for a in (0, 30, 42, 54, 84, 108):
            x[k, :, a:a + 6] = one_hot_encode("TTGACA")
    table = check_seqlets(ThreeMotifs(), x, windows, seqlets, Target(), max_seqlets=1000, draws=16, seed=0)
    kind = table["name"].str.extract(r"^([a-z]+)")[0]
    assert table.loc[kind == "rep", "confirmed"].all()
    assert not table.loc[kind.isin(["wrong", "noise"]), "confirmed"].any()


def test_check_seqlets_on_a_run_folder_end_to_end(tmp_path):
    """CLI: the demo model's calls on 40 demo regions are checked, the table written, the report shows the section;
    a re-call with both signs unasked removes the check of the calls it replaced (provenance), and the report
    drops the section; a re-call asking the model (the default) checks its own calls."""
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    lines = [line for line in (demo / "regions.bed").read_text().splitlines() if not line.startswith("track")]
    (tmp_path / "regions.bed").write_text("\n".join(lines[:40]) + "\n")
    out = tmp_path / "out"

    def run(*args):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("attribute", demo / "genome.fa", tmp_path / "regions.bed", "--model", demo / "model.safetensors", "-o", out,
        "--null", "laplace", "--fdr", "0.2", "-q")
    run("check-seqlets", out, "--max-seqlets", "30", "-q")
    table = pd.read_csv(out / "seqlet_check.tsv", sep="\t")
    seqlets = pd.read_csv(out / "seqlets.tsv", sep="\t")
    assert 0 < len(table) <= 30 and set(table["name"]) <= set(seqlets["name"])
    assert table["confirmed"].mean() > 0.7  # the demo model's calls are mostly right about it
    assert "Does the model confirm the seqlets?" in build_report(out, top=1)
    edited = tmp_path / "edited"  # auditbreak: another run's check (or one edited) was shown as this run's
    shutil.copytree(out, edited)
    rows = (edited / "seqlet_check.tsv").read_text().splitlines(keepends=True)
    (edited / "seqlet_check.tsv").write_text("".join(rows[:-1]))
    assert "Does the model confirm the seqlets?" not in build_report(edited, top=1)
    header = (out / "seqlets.tsv").read_text().splitlines()[0].split("\t")
    for column, message in (("region_index", "seqlets.tsv:3: region_index 'x' is not a whole number"),
                            ("qvalue", "column qvalue is missing or not a number in every row")):
        rows = [line.split("\t") for line in (out / "seqlets.tsv").read_text().splitlines()]
        rows[2][header.index(column)] = "x"  # auditbreak: a garbled row was a TypeError traceback
        (edited / "seqlets.tsv").write_text("".join("\t".join(row) + "\n" for row in rows))
        result = CliRunner().invoke(main, ["check-seqlets", str(edited), "-q"])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert message in result.output, result.output
    shutil.rmtree(edited)  # fresh26b: a call-peaks killed between its files left another FDR's seqlets.tsv
    shutil.copytree(out, edited)
    run("call-peaks", edited, "--fdr", "0.5", "--null", "laplace", "-q")
    shutil.copyfile(edited / "seqlets.tsv", out / "seqlets.tsv")
    result = CliRunner().invoke(main, ["check-seqlets", str(out), "-q"])
    assert result.exit_code == 2 and "seqlets.tsv, elements.tsv: its files changed since they were written" in \
        result.output, result.output
    run("call-peaks", out, "--fdr", "0.5", "--null", "laplace", "--signs", "+-", "-q")  # both signs, unasked
    assert not (out / "seqlet_check.tsv").exists()
    assert "Does the model confirm the seqlets?" not in build_report(out, top=1)
    run("call-peaks", out, "--fdr", "0.5", "--null", "laplace", "-q")  # --signs auto: the check of the new calls
    table, seqlets = (pd.read_csv(out / name, sep="\t") for name in ("seqlet_check.tsv", "seqlets.tsv"))
    assert len(table) and set(table["name"]) <= set(seqlets["name"]) and set(table["sign"]) == {"+", "-"}
    assert "Does the model confirm the seqlets?" in build_report(out, top=1)
    run("check-seqlets", out, "--alpha", "0.001", "-q")  # 99 controls cannot reach it: no verdict either way
    assert not pd.read_csv(out / "seqlet_check.tsv", sep="\t")["confirmed"].any()
    text = build_report(out, top=1)  # fresh31b: the report flagged both signs, each told to call the other alone
    assert "Does the model confirm the seqlets?" in text and "does not confirm most" not in text
    assert "confirms neither" not in text


def test_a_sign_the_model_does_not_confirm_is_flagged():
    """Every - call sits on an activator (the map's - sign is wrong about this model): the - sign is flagged, the
    + sign (true activator calls) is not; with the true repressor calls instead, nothing is."""
    from seqsal.seqlet_check import unconfirmed_signs

    x, windows, seqlets = _world()
    kind = seqlets["name"].str.extract(r"^([a-z]+)")[0]
    wrong = check_seqlets(TwoMotifs(), x, windows, seqlets[kind.isin(["act", "wrong"])], Target(), draws=16)
    right = check_seqlets(TwoMotifs(), x, windows, seqlets[kind.isin(["act", "rep"])], Target(), draws=16)
    assert unconfirmed_signs(wrong) == ["-"] and unconfirmed_signs(right) == []


def test_each_sign_gets_its_share_of_the_checked_seqlets():
    """session 31: the most significant seqlets over both signs were checked, so a - sign whose q-values were all
    larger than the + sign's got no check and no verdict (basset_B of the zoo: 0 of its 40 - seqlets among the 200
    checked, 5 of 40 confirmed when asked). Here the wrong - calls are the least significant: each sign still gets
    half, and the - sign is flagged."""
    from seqsal.seqlet_check import chosen_rows, unconfirmed_signs

    x, windows, seqlets = _world(n=12)
    kind = seqlets["name"].str.extract(r"^([a-z]+)")[0]
    calls = seqlets[kind.isin(["act", "wrong"])].assign(qvalue=lambda t: np.where(t["sign"] == "+", 0.001, 0.1))
    table = check_seqlets(TwoMotifs(), x, windows, calls, Target(), max_seqlets=12, draws=16, seed=0)
    assert table["sign"].value_counts().to_dict() == {"+": 6, "-": 6}
    assert unconfirmed_signs(table) == [] and unconfirmed_signs(table, min_checked=6) == ["-"]
    order = lambda frame, n: frame["sign"].to_numpy()[chosen_rows(frame, np.ones(len(frame), bool), n)]  # noqa: E731
    signs = pd.DataFrame({"sign": ["+"] * 30 + ["-"] * 4, "score": 1.0,
                          "qvalue": np.r_[np.full(30, 0.01), np.full(4, 0.2)]})
    assert list(order(signs, 10)) == ["+"] * 6 + ["-"] * 4  # the - sign's 4, the rest to +, most significant first
    assert list(order(signs.iloc[::-1].reset_index(drop=True), 10)) == ["+"] * 6 + ["-"] * 4
    assert (order(signs, 9) == "-").sum() == 4 and (order(signs.assign(sign="+"), 9) == "+").all()
    assert len(order(signs, None)) == 34 and len(order(signs, 0)) == 0


def test_a_few_calls_can_still_be_confirmed_and_too_few_controls_say_nothing_against_them():
    """With one control per seqlet, 10 seqlets gave a smallest p-value of 1/11 > 0.05: none could be confirmed,
    and the check then told the user not to act on the calls (a fresh user's run of 50 demo regions)."""
    x, windows, seqlets = _world(n=10)
    acts = seqlets[seqlets["name"].str.startswith("act")]
    table = check_seqlets(TwoMotifs(), x, windows, acts, Target(), draws=16, seed=0)
    assert len(table) == 10 and table.attrs["n_controls"] >= 99
    assert table["confirmed"].all() and table["pvalue"].max() <= 0.01 + 1e-12
    # windows with no room for a control: no verdict, and the log says so instead of refusing the calls
    from seqsal import seqlet_check

    full = pd.concat([acts.assign(start=acts["start"] - 20, end=acts["start"] + 100, name=acts["name"] + "w")])
    crowded = check_seqlets(TwoMotifs(), x, windows, acts, Target(), draws=2, seed=0, avoid=full)
    assert crowded.attrs["n_controls"] == 0 and not crowded["confirmed"].any()
    assert seqlet_check.unconfirmed_signs(crowded) == ["+"]  # counted alone, the table reads as a refusal
    assert seqlet_check.unconfirmed_signs(crowded, alpha=0.05) == []  # but no verdict is possible
    assert seqlet_check.unconfirmed_signs(table, alpha=0.05) == []  # confirmed calls: no refusal either


@pytest.mark.parametrize("bad", [{"alpha": 2}, {"alpha": 0}, {"alpha": -1}, {"alpha": "0.05"}, {"draws": 0},
                                 {"max_seqlets": 2.5}, {"max_seqlets": -1}])
def test_the_api_refuses_what_the_cli_refuses(bad):
    """fresh30b: check_seqlets_run(alpha=2) confirmed every seqlet (p 0.94 among them), alpha 0 none, draws=0
    divided by zero: the API takes what the CLI's option types take."""
    from seqsal.errors import InputError
    from seqsal.seqlet_check import check_seqlets_run

    with pytest.raises(InputError, match="alpha|draws|max_seqlets"):
        check_seqlets_run("no-such-folder", **bad)
    with pytest.raises(InputError, match="alpha|draws|max_seqlets"):
        check_seqlets(None, np.zeros((1, 4, 10), np.float32), pd.DataFrame(), pd.DataFrame(), Target(), **bad)
    # review30b: None (every seqlet) worked before the checks and still does
    assert check_seqlets(None, np.zeros((1, 4, 10), np.float32), pd.DataFrame(), pd.DataFrame(), Target(),
                         max_seqlets=None).empty


# review31 (session 31): the signs' shares
def _table(signs, qvalues):
    return pd.DataFrame({"sign": signs, "score": 1.0, "qvalue": qvalues})


def test_chosen_rows_two_stage_selection_of_check_seqlets_run_keeps_the_minus_share():
    """check_seqlets_run pre-cuts with every seqlet held, then check_seqlets drops those no window holds whole and
    cuts again: with a pre-cut to max_seqlets, held - seqlets beyond it were never considered (review31); the
    pre-cut to twice max_seqlets keeps each sign's share."""
    from seqsal.seqlet_check import chosen_rows

    table = _table(["+"] * 20 + ["-"] * 20, np.r_[np.full(20, 0.01), np.linspace(0.02, 0.1, 20)])
    held = np.ones(40, bool)
    held[20:25] = False  # the 5 most significant - seqlets lie in no window whole
    one_stage = table["sign"].to_numpy()[chosen_rows(table, held, 10)]
    assert (one_stage == "-").sum() == 5
    pre = chosen_rows(table, np.ones(40, bool), 20)  # what check_seqlets_run reads: twice max_seqlets
    two_stage = table["sign"].to_numpy()[pre][chosen_rows(table.iloc[pre].reset_index(drop=True), held[pre], 10)]
    assert (two_stage == "-").sum() == 5


def test_chosen_rows_max_one_takes_the_most_significant_seqlet():
    from seqsal.seqlet_check import chosen_rows

    table = _table(["+", "-"], [0.1, 0.001])
    assert table["sign"].to_numpy()[chosen_rows(table, np.ones(2, bool), 1)].tolist() == ["-"]
    numeric = _table([1, 1, 1, -1], [0.001, 0.002, 0.003, 0.1])  # signs as numbers (the API's calls)
    assert list(chosen_rows(numeric, np.ones(4, bool), 2)) == [0, 3]


def test_a_sign_the_model_contradicts_is_withheld_from_the_calls_and_said(demo_run, tmp_path, monkeypatch):
    """session 31: with calls of both signs, a sign whose checked seqlets the model mostly does not confirm is not
    called: the calls are made again for the other sign (its rows unchanged), run.json and the report say so, the
    check stays current, and motif discovery leaves the sign out. (The check itself is faked here: its verdicts
    are tested above; the demo model confirms both of its signs.)"""
    from seqsal import seqlet_check
    from seqsal.motifs.run import discovery_seqlets
    from seqsal.provenance import status

    out = Path(shutil.copytree(demo_run, tmp_path / "run"))
    before = pd.read_csv(out / "seqlets.tsv", sep="\t")
    assert set(before["sign"]) == {"+", "-"}
    earlier = json.loads((out / "run.json").read_text())["peaks"]

    def fake_check(folder, max_seqlets=200, draws=8, alpha=0.05, warn=True, device=None):
        rows = before.groupby("sign").head(20)
        confirmed = (rows["sign"] == "+").to_numpy().copy()
        confirmed[np.flatnonzero(~confirmed)[:3]] = True  # 3 of the 20 - seqlets
        table = pd.DataFrame({"name": rows["name"], "sign": rows["sign"], "score": rows["score"],
                              "qvalue": rows["qvalue"], "change": 0.0, "effect": 0.0, "pvalue": 0.5,
                              "confirmed": confirmed})
        table.attrs["n_controls"] = 99
        seqlet_check.write_table_atomic(Path(folder) / "seqlet_check.tsv", table)
        seqlet_check.record_written(Path(folder), "seqlet_check")
        return table

    monkeypatch.setattr(seqlet_check, "check_seqlets_run", fake_check)
    assert seqlet_check.withhold_unconfirmed(out) == {"-": {"checked": 20, "confirmed": 3}}
    after = pd.read_csv(out / "seqlets.tsv", sep="\t")
    columns = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue"]
    assert (after["sign"] == "+").all()
    assert after[columns].reset_index(drop=True).equals(before.loc[before["sign"] == "+", columns]
                                                        .reset_index(drop=True))
    assert (pd.read_csv(out / "elements.tsv", sep="\t")["sign"] == "+").all()
    peaks = json.loads((out / "run.json").read_text())["peaks"]
    assert peaks["withheld"] == {"-": {"checked": 20, "confirmed": 3}} and peaks["options"]["signs"] == "+"
    # session 32: the re-call's record had lost the null asked for and the times
    assert peaks["requested_null"] == earlier["requested_null"] == "shuffle"
    assert peaks["timing_seconds"]["null_attribution"] == earlier["timing_seconds"]["null_attribution"]
    assert peaks["timing_seconds"]["check"] >= 0
    assert status(out, "seqlet_check") == "current" and status(out, "calls") == "current"
    check = pd.read_csv(out / "seqlet_check.tsv", sep="\t")  # review31b: the re-call renumbered the seqlets
    kept = check[check["sign"] == "+"].merge(after, on="name", suffixes=("", "_now"))
    site = ["region_index", "offset_start", "offset_end"]
    first = before[before["sign"] == "+"].head(20)  # the + seqlets the check was made on, by their sites
    assert len(kept) == 20 and set(map(tuple, kept[site].to_numpy())) == set(map(tuple, first[site].to_numpy()))
    assert check.loc[check["sign"] == "-", "name"].str.startswith("withheld_seqlet_").all()
    sites = before.set_index("name").loc[check.loc[check["sign"] == "-", "name"].str.replace("withheld_", "")]
    assert (sites["sign"] == "-").all()
    assert "(3 of 20 checked)" in build_report(out, top=1) and "are not called" in build_report(out, top=1)
    monkeypatch.undo()  # the real check of the + seqlets left: the withheld sign's rows stay (review32b: dropped)
    again = seqlet_check.check_seqlets_run(out, max_seqlets=10)
    rows = pd.read_csv(out / "seqlet_check.tsv", sep="\t")
    assert set(again["sign"]) == {"+"} and len(rows) == len(again) + 20
    assert rows.loc[rows["sign"] == "-", "name"].str.startswith("withheld_").all()
    monkeypatch.setattr(seqlet_check, "check_seqlets_run", fake_check)
    assert seqlet_check.withhold_unconfirmed(out) == {}  # one sign called already: nothing more to ask
    assert set(discovery_seqlets(out)["sign"]) <= {"+", 1}
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    resume = ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
              str(demo / "model.safetensors"), "-o", str(out), "--resume"]
    said = CliRunner().invoke(main, [*resume, "--signs", "+-"]).output  # session 32: both asked, - left out: silent
    assert "leave out the - sign, which the model contradicted" in said and "--signs +-` calls both" in said
    assert "leave out" not in CliRunner().invoke(main, resume).output  # --signs auto: what auto does
    said = CliRunner().invoke(main, [*resume, "--no-peaks"]).output  # review32b: the calls stayed unsaid
    assert "the calls in" in said and "stay: a resume keeps them" in said
    said = CliRunner().invoke(main, [*resume, "--signs", "-", "--fdr", "0.1"]).output  # review32b: silent on signs
    assert "were made for signs +, not the - asked" in said
    assert "--fdr 0.1 --element-fdr 0.05 --signs -` calls again" in said  # review32b: the command dropped --signs


def test_a_resume_checks_only_calls_made_to_be_checked(demo_run, tmp_path):
    """review32b: `seqsal call-peaks FOLDER --signs +-` (both signs, on purpose), then `attribute --resume`: the
    resume ran the check and withheld a sign the user had asked for."""
    from seqsal.provenance import remove_group, status

    out = Path(shutil.copytree(demo_run, tmp_path / "run"))
    called = CliRunner().invoke(main, ["call-peaks", str(out), "--signs", "+-"])
    assert called.exit_code == 0, called.output
    remove_group(out, "seqlet_check")  # as a re-call of a withheld folder leaves it (the check named other calls)
    assert "signs_asked" not in json.loads((out / "run.json").read_text())["peaks"]
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "-o", str(out), "--resume"])
    assert result.exit_code == 0 and "check:" not in result.output and status(out, "seqlet_check") == "absent"
    assert json.loads((demo_run / "run.json").read_text())["peaks"]["signs_asked"] == "auto"


def test_a_check_out_of_gpu_memory_keeps_both_signs_and_says_how_to_check(demo_run, tmp_path, monkeypatch, caplog):
    """review32b: a CUDA out-of-memory error in the check, after the run had finished, ended `attribute` with a
    traceback and exit 1."""
    from seqsal import seqlet_check

    out = Path(shutil.copytree(demo_run, tmp_path / "run"))

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(seqlet_check, "check_seqlets_run", out_of_memory)
    with caplog.at_level("WARNING", logger="seqsal"):
        assert seqlet_check.withhold_unconfirmed(out) == {}
    assert "ran out of memory" in caplog.text and "--device cpu` checks them" in caplog.text
    monkeypatch.setattr(seqlet_check, "check_seqlets_run", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # other errors are not hidden
        seqlet_check.withhold_unconfirmed(out)


def test_attribute_asks_the_model_and_the_demo_model_confirms_both_signs(demo_run):
    """`seqsal attribute` with its defaults (--signs auto) ends with the check: the demo model confirms most of
    each sign's checked seqlets, so both signs are called and nothing is withheld."""
    table = pd.read_csv(demo_run / "seqlet_check.tsv", sep="\t")
    peaks = json.loads((demo_run / "run.json").read_text())["peaks"]
    assert set(table["sign"]) == {"+", "-"} and table.groupby("sign")["confirmed"].mean().min() > 0.8
    assert "withheld" not in peaks and peaks["options"]["signs"] == "+-"
    assert peaks["n_seqlets_by_sign"]["+"] > 50 and peaks["n_seqlets_by_sign"]["-"] > 50


def test_a_resume_finishes_a_check_that_was_interrupted(demo_run, tmp_path):
    """review31b: a check interrupted at the end of `attribute` was never run again: the resume said "nothing to
    resume" and the folder kept both signs unasked."""
    from seqsal.provenance import remove_group, status

    out = Path(shutil.copytree(demo_run, tmp_path / "run"))
    remove_group(out, "seqlet_check")
    assert status(out, "seqlet_check") == "absent"
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "-o", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert "nothing to resume" in result.output and "check: + seqlets: the model confirms" in result.output
    assert status(out, "seqlet_check") == "current"


def test_the_check_runs_the_model_in_float32_where_the_run_ran(demo_run, monkeypatch):
    """review32b: on a GPU the check's forward passes ran under TF32 while the run's maps were float32."""
    from helpers import record_precision

    from seqsal import seqlet_check
    seen = record_precision(monkeypatch, seqlet_check)
    seqlet_check.check_seqlets_run(demo_run, max_seqlets=20, write=False, warn=False)
    assert seen == [("cpu", None)]


def test_the_reports_parameters_show_none_as_none(demo_run):
    """floors32: under pandas 3 the report's "All parameters" showed empty cells where pandas 2 wrote None."""
    assert "<td>max_memory</td><td>None</td>" in build_report(demo_run, top=1)

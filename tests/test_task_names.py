"""A model's task names must fit the task axis of the output explained (fresh16: a name resolved against the wrong
axis was explained there under the task's name)."""
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.errors import InputError
from seqsal.models.probes import check_task_names


class Profile(nn.Module):
    """(N, L - 20, 3): positions x tasks, with task names."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 3, 5, padding=2)
        self.task_names = ["a", "gata", "c"]

    def forward(self, x):
        return self.conv(x).transpose(1, 2)[:, 10:-10]


class FiveOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 5, 5)
        self.task_names = ["a", "b", "c"]

    def forward(self, x):
        return self.conv(x).mean(-1)


def _x():
    x = torch.zeros(2, 4, 200)
    x[:, 0] = 1
    return x


def test_a_task_named_on_the_wrong_axis_is_refused():
    model = Profile().eval()
    x = _x()
    right = seqsal.attribute(model, x, target="task=gata")  # the task axis found: the last one
    same = seqsal.attribute(model, x, target="task=gata,axis=-1")
    assert torch.equal(right, same)
    with pytest.raises(InputError, match=r"names 3 tasks \(a, gata, c\) but axis 1 of its output \(N, 180, 3\) has 180"):
        seqsal.attribute(model, x, target="task=gata,axis=1")
    with pytest.raises(InputError, match="axis 1"):
        seqsal.attribute(model, x, target="task=2,axis=1")


def test_task_names_that_do_not_match_the_outputs_are_refused():
    with pytest.raises(InputError, match=r"names 3 tasks \(a, b, c\) but its output \(N, 5\) has 5"):
        seqsal.attribute(FiveOutputs().eval(), _x(), target=1)


def test_check_task_names():
    check_task_names((8, 3), 1, ["a", "b", "c"])
    check_task_names((8,), None, ["only"])
    check_task_names((8, 5), 1, None)
    with pytest.raises(InputError, match="one value per sequence"):
        check_task_names((8,), None, ["a", "b"])


def test_an_exported_program_takes_its_task_names_from_an_extra_file(tmp_path):
    """fresh16: torch.export drops a module's task_names, and the advice to set the attribute changed nothing; the
    names now travel as ``extra_files={"seqsal.json": ...}``, as seqsal's own TorchScript files carry them."""
    import json

    torch.manual_seed(0)
    model = FiveOutputs().eval()
    model.task_names = ["a", "b", "c", "d", "e"]
    program = torch.export.export(model, (torch.zeros(2, 4, 200),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    bare, named = tmp_path / "bare.pt2", tmp_path / "named.pt2"
    torch.export.save(program, str(bare))
    torch.export.save(program, str(named), extra_files={"seqsal.json": json.dumps({"task_names": model.task_names})})
    assert seqsal.load_model(str(bare)).task_names is None
    loaded = seqsal.load_model(str(named))
    assert loaded.task_names == model.task_names and loaded.input_length == 200
    with pytest.raises(InputError, match="extra_files"):
        seqsal.attribute(seqsal.load_model(str(bare)), _x(), target="task=d")
    assert torch.equal(seqsal.attribute(loaded, _x(), target="task=d"), seqsal.attribute(loaded, _x(), target=3))


def test_a_scripted_model_with_a_seqsal_json_keeps_its_own_window(tmp_path):
    """fresh28: a TorchScript archive given task names in seqsal.json (as README says) lost its module's
    input_length: regions were fed whole, not in the model's window, and explained with other predictions."""
    import json

    class Windowed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.input_length, self.task_names = nn.Conv1d(4, 2, 5), 200, ["a", "b"]

        def forward(self, x):
            return self.conv(x).mean(-1)

    scripted = torch.jit.script(Windowed().eval())
    path = tmp_path / "named.pt"
    torch.jit.save(scripted, str(path), _extra_files={"seqsal.json": json.dumps({"task_names": ["a", "b"]})})
    loaded = seqsal.load_model(str(path))
    assert loaded.input_length == 200 and loaded.task_names == ["a", "b"]
    torch.jit.save(scripted, str(path), _extra_files={"seqsal.json": json.dumps({"task_names": ["b", "a"]})})
    with pytest.raises(InputError, match="seqsal.json gives task_names.*make them agree"):
        seqsal.load_model(str(path))
    # output 0's names as a dict agree with the same list (review30: refused as a disagreement)
    torch.jit.save(scripted, str(path), _extra_files={"seqsal.json": json.dumps({"task_names": {"0": ["a", "b"]}})})
    assert seqsal.load_model(str(path)).task_names == ["a", "b"]
    from seqsal.models.files import _agreeing  # review30b: an output without names is no disagreement
    assert _agreeing("task_names", ["a"], {0: ["a"], 1: []}, "p") == {0: ["a"], 1: []}


def test_a_negative_task_index_is_recorded_as_the_task_it_names(tmp_path, small_genome, tiny_model):
    """fresh16: `--target -1` ran and was recorded (run.json, report) as task -1, with no name."""
    import json

    from test_run_folder import _attribute

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    result = _attribute(small_genome[0], bed, tiny_model[0], tmp_path / "out", "--target", "-1")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "run.json").read_text())["target"]["task"] == 1  # "enhancer"


def test_a_tuple_model_without_an_output_named_says_which_output_is_explained(tmp_path, small_genome):
    """fresh16: an empty --target on a model returning (profile, counts) explained output 0 without a word."""
    from click.testing import CliRunner

    from seqsal.cli import main

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 2, 5, padding=2)

        def forward(self, x):
            h = self.conv(x)
            return h, h.mean(-1)

    class Flip(nn.Module):
        def forward(self, outputs: tuple[torch.Tensor, torch.Tensor]):
            return outputs[1], outputs[0]

    path = tmp_path / "two.pt"
    torch.jit.trace(Two().eval(), torch.zeros(1, 4, 200)).save(str(path))
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    def attribute(out, *extra):  # without -q: the line is an info line
        return CliRunner().invoke(main, ["attribute", str(small_genome[0]), str(bed), "--model", str(path), "-o",
                                         str(out), "--no-peaks", *extra])

    result = attribute(tmp_path / "out")
    assert result.exit_code == 0, result.output
    # fresh27a: a profile first, as a BPNet's: its sum over positions is no prediction, so it is a warning
    assert ("the model returns 2 outputs (N, 2, 200), (N, 2), and output 0 is a profile" in result.output
            and "--target output=0,reduce=bpnet" in result.output)
    named = attribute(tmp_path / "out1", "--target", "output=1")
    assert named.exit_code == 0 and "2 outputs" not in named.output
    kept = attribute(tmp_path / "out0", "--target", "output=0")
    assert kept.exit_code == 0 and "2 outputs" not in kept.output
    summed = attribute(tmp_path / "out3", "--target", "reduce=sum")  # the sum asked for: no warning, the info line
    assert summed.exit_code == 0 and "output 0 is a profile" not in summed.output and "2 outputs" in summed.output
    flipped = tmp_path / "flipped.pt"  # one value per sequence first: said, as before, as an info line
    torch.jit.trace(nn.Sequential(Two(), Flip()).eval(), torch.zeros(1, 4, 200)).save(str(flipped))
    result = CliRunner().invoke(main, ["attribute", str(small_genome[0]), str(bed), "--model", str(flipped), "-o",
                                       str(tmp_path / "out2"), "--no-peaks"])
    assert result.exit_code == 0 and "the model returns 2 outputs (N, 2), (N, 2, 200); output 0 is explained" in \
        result.output


def test_task_names_holding_commas_are_given_as_they_are():
    """fresh27c: Basenji-style track descriptions hold commas; --target split them into keys."""
    assert Target.parse("CAGE:B cell, biol_") == Target(task="CAGE:B cell, biol_")
    assert Target.parse("task=CAGE:B cell, biol_,axis=-1") == Target(task="CAGE:B cell, biol_", axis=-1)
    assert Target.parse("CAGE:B cell, biol_,axis=-1") == Target(task="CAGE:B cell, biol_", axis=-1)  # fresh28
    assert Target.parse("output=1,task=a,b,reduce=mean") == Target(output=1, task="a,b", reduction="mean")
    assert Target.parse("7") == Target(task=7) and Target.parse("output=1,2") == Target(output=1, task=2)
    with pytest.raises(InputError, match="given twice"):
        Target.parse("task=a,task=b")


class Heads(nn.Module):
    """Enformer-like heads: 4 human tracks and 3 mouse tracks over bins, each head named by its own list."""

    def __init__(self, names):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.human, self.mouse = nn.Conv1d(4, 8, 5, padding=2), nn.Conv1d(8, 4, 1), nn.Conv1d(8, 3, 1)
        self.task_names = names

    def forward(self, x):
        h = torch.relu(nn.functional.avg_pool1d(self.conv(x), 8))
        return {"human": self.human(h).transpose(1, 2), "mouse": self.mouse(h).transpose(1, 2)}  # (N, bins, tracks)


def test_each_output_of_a_model_of_several_heads_has_its_own_task_names():
    """fresh28: one list of names was applied to whichever head was picked: heads of equal sizes explained the mouse
    track at the human name's index under that name, and a head of another size could not be explained at all."""
    names = {"human": ["DNASE:K562", "CAGE:B cell, biol_", "CHIP:CTCF:HepG2", "ATAC:liver"],
             "mouse": ["DNASE:liver", "CHIP:CTCF:ES", "CAGE:brain"]}
    model, x = Heads(names).eval(), torch.eye(4)[torch.randint(0, 4, (2, 64))].transpose(1, 2).contiguous()
    by_name = seqsal.attribute(model, x, target="output=mouse,task=CHIP:CTCF:ES,axis=-1")
    assert torch.equal(by_name, seqsal.attribute(model, x, target="output=mouse,task=1,axis=-1"))
    human = seqsal.attribute(model, x, target="output=human,task=CAGE:B cell, biol_,axis=-1")
    assert torch.equal(human, seqsal.attribute(model, x, target="output=human,task=1,axis=-1"))
    with pytest.raises(InputError, match="not one of the model's tasks: DNASE:liver, CHIP:CTCF:ES, CAGE:brain"):
        seqsal.attribute(model, x, target="output=mouse,task=ATAC:liver,axis=-1")
    with pytest.raises(InputError, match="each one's tasks"):  # one flat list of 4 on the 3 mouse tracks
        seqsal.attribute(Heads(names["human"]).eval(), x, target="output=mouse,task=1,axis=-1")
    from seqsal.report_tables import target_text
    assert "task 2 (CAGE:brain)" in target_text({"output": "mouse", "task": 2}, names)


class TwoHeadsNamed(nn.Module):
    """A tuple of two heads whose task_names is a dict: keyed by index in the tuple, or (wrongly) by head name."""

    task_names: dict[str, list[str]]  # typed: TorchScript cannot infer the type of an empty list

    def __init__(self, names: dict[str, list[str]]):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.reg, self.cls = nn.Conv1d(4, 6, 5, padding=2), nn.Linear(6, 3), nn.Linear(6, 1)
        self.task_names = names

    def forward(self, x):
        h = torch.relu(self.conv(x)).mean(-1)
        return self.reg(h), self.cls(h)


def test_a_scripted_model_keeps_its_task_names_of_each_output(tmp_path):
    """fresh30: a TorchScript module's dict of task names was dropped at load (only a flat list was kept), and
    ``--target task=gata`` was refused with "the model file names no tasks"."""
    names = {"0": ["activity", "gata", "ctcf"], "1": ["open"]}
    path = tmp_path / "heads.pt"
    torch.jit.save(torch.jit.script(TwoHeadsNamed(names).eval()), str(path))
    loaded = seqsal.load_model(str(path))
    assert loaded.task_names == names
    assert Target.parse("task=gata").resolve(loaded.task_names).task == 1
    assert Target.parse("output=1,task=open").resolve(loaded.task_names).task == 0
    # review30: a head without names (an empty list) kept the others' names, and asking it for a name says so
    torch.jit.save(torch.jit.script(TwoHeadsNamed({"0": names["0"], "1": []}).eval()), str(path))
    loaded = seqsal.load_model(str(path))
    assert loaded.task_names == {"0": names["0"], "1": []}
    assert Target.parse("task=gata").resolve(loaded.task_names).task == 1
    with pytest.raises(InputError, match=r"names no tasks of output 1 \(its task_names name outputs '0', '1'\): "
                                         r"name the task by its index"):
        Target.parse("output=1,task=open").resolve(loaded.task_names)


def test_task_names_keyed_by_head_name_on_a_tuple_output_say_how_to_key_them():
    """A dict keyed by head names ("reg", "cls") on a model returning a tuple: no key names output 0; the message
    said the model names no tasks and told the user to add a list."""
    names = {"reg": ["activity", "gata", "ctcf"], "cls": ["open"]}
    with pytest.raises(InputError, match=r"keyed by 'reg', 'cls', none of them output 0: name one of those "
                                         r"outputs, or key each output's list by its index in the output tuple"):
        Target.parse("task=gata").resolve(names)

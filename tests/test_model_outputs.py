"""A probability output is found in the model's graph, and the pipeline explains its logit (issue 13: the
calibration zoo's sigmoid classifier, explained as its probability, gets almost no calls)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from seqsal.attribution import Target
from seqsal.output_transforms import choose_transform
from seqsal.encode import one_hot_encode
from seqsal.run_windows import run_inputs
from seqsal.genome import Genome
from seqsal.io import region_arrays
from seqsal.models.outputs import probability_output
from seqsal.models.user import ChannelsLast, FixedBatch
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.report_tables import target_text

from helpers import chosen_transform


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 8, 7, padding=3)
        self.dense = nn.Linear(8, 2)

    def logits(self, x):
        return self.dense(torch.relu(self.conv(x)).amax(dim=2))


class ModuleSigmoid(Body):
    def __init__(self):
        super().__init__()
        self.act = nn.Sigmoid()

    def forward(self, x):
        return self.act(self.logits(x))


class FunctionSigmoidSqueezed(Body):
    def forward(self, x):
        return torch.sigmoid(self.logits(x)[:, :1]).squeeze(-1)


class MethodSigmoid(Body):
    def forward(self, x):
        return self.logits(x).sigmoid()


class Logits(Body):
    def forward(self, x):
        return self.logits(x)


class SigmoidInside(Body):
    """A sigmoid that is not the last operation: the output is not a probability."""

    def forward(self, x):
        return torch.sigmoid(self.logits(x)) * 4.0 - 2.0


class TwoHeads(Body):
    def forward(self, x):
        z = self.logits(x)
        return z, torch.sigmoid(z)


class DictHeads(Body):
    def forward(self, x):
        z = self.logits(x)
        return {"logit": z, "probability": torch.sigmoid(z)}


class SigmoidSliced(Body):
    def forward(self, x):
        return torch.sigmoid(self.logits(x))[:, 0]


class SigmoidSelectedChunk(Body):
    def forward(self, x):
        return torch.sigmoid(self.logits(x)).transpose(0, 1).chunk(2, dim=0)[1].select(0, 0)


class SigmoidNarrowed(Body):
    def forward(self, x):
        return self.logits(x).sigmoid().narrow(1, 1, 1).permute(1, 0).flatten()


class SlicedThenScaled(Body):
    def forward(self, x):
        return torch.sigmoid(self.logits(x))[:, 0] * 2.0


class LogitSliced(Body):
    def forward(self, x):
        return self.logits(x)[:, 1]


class Untraceable(Body):
    def forward(self, x):
        if float(x.sum()) > 0:  # data-dependent control flow: torch.fx cannot trace it
            return torch.sigmoid(self.logits(x))
        return torch.sigmoid(self.logits(x))


def kind(model, output=None) -> str:
    return probability_output(model, output).kind


@pytest.mark.parametrize("model, expected", [
    (ModuleSigmoid(), "sigmoid"), (FunctionSigmoidSqueezed(), "sigmoid"), (MethodSigmoid(), "sigmoid"),
    (Logits(), "other"), (SigmoidInside(), "other"), (Untraceable(), "unknown"), (SigmoidSliced(), "sigmoid"),
    (SigmoidSelectedChunk(), "sigmoid"), (SigmoidNarrowed(), "sigmoid"), (SlicedThenScaled(), "other"),
    (LogitSliced(), "other"),
])
def test_a_sigmoid_as_the_last_operation_is_found_in_modules_and_torchscript(model, expected):
    assert kind(model) == expected
    if not isinstance(model, Untraceable):
        assert kind(torch.jit.script(model)) == expected
        program = torch.export.export(model.eval(), (torch.zeros(2, 4, 50),))
        assert kind(program.module()) == expected
    assert kind(ChannelsLast(model)) == expected


def test_an_unreadable_graph_is_explained_as_it_is_and_says_so(caplog):
    caplog.set_level("INFO", logger="seqsal")
    assert choose_transform(Untraceable(), Target(), "grad_x_input").transform == "none"
    assert any("cannot be read" in r.getMessage() and "transform=logit" in r.getMessage() for r in caplog.records)
    caplog.clear()
    assert choose_transform(Logits(), Target(), "grad_x_input").transform == "none"
    assert not any("cannot be read" in r.getMessage() for r in caplog.records)


def test_the_selected_output_of_a_tuple_or_dict_is_the_one_read():
    assert kind(TwoHeads(), 0) == "other" and kind(TwoHeads(), 1) == "sigmoid"
    assert kind(TwoHeads()) == "other"  # element 0 of a tuple
    scripted = torch.jit.script(TwoHeads())
    assert kind(scripted, 0) == "other" and kind(scripted, 1) == "sigmoid"
    assert kind(DictHeads(), "probability") == "sigmoid" and kind(DictHeads(), "logit") == "other"
    assert kind(torch.jit.script(DictHeads()), "probability") == "sigmoid"
    assert kind(DictHeads()) == "other"  # two entries, none named


class Wrapper(nn.Module):
    """fresh30: a wrapper around a two-headed model, as a lab scripts one to name or pick its outputs."""

    def __init__(self):
        super().__init__()
        self.model = TwoHeads()


class WrapIndex(Wrapper):
    def forward(self, x):
        return self.model(x)[1]


class WrapUnpack(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        return z, p


class WrapDict(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        return {"reg": z, "cls": p}


class WrapList(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        return [z, p][1]  # an item of a list the graph builds


@pytest.mark.parametrize("wrapper, output, other", [(WrapIndex, None, None), (WrapUnpack, 1, 0),
                                                    (WrapDict, "cls", "reg"), (WrapList, None, None)])
def test_a_sigmoid_reached_through_a_scripted_wrapper_s_tuple_is_found(wrapper, output, other):
    """Scripted and inlined, the head's sigmoid sits behind prim::TupleUnpack / TupleIndex of the inner model's
    tuple: it read as ``other`` (TupleIndex followed to the tuple, not its item), so a scripted wrapper's sigmoid head
    was explained as a probability without a word, while the same module unscripted was explained as its logit."""
    model = wrapper().eval()
    assert kind(model, output) == "sigmoid"
    assert kind(torch.jit.script(model), output) == "sigmoid"
    if other is not None:
        assert kind(torch.jit.script(model), other) == "other"


class SetItem(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        out = [p, z]
        out[0] = z * 2.0
        return out[0]


class Overwritten(Wrapper):
    def forward(self, x) -> dict[str, torch.Tensor]:
        z, p = self.model(x)
        heads = {"cls": p}
        heads["cls"] = z
        return heads


class Updated(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        heads = {"p": p}
        heads.update({"p": z})
        return heads["p"]


class Popped(Wrapper):
    def forward(self, x):
        z, p = self.model(x)
        out = [p, z]
        out.pop(0)
        return out[0]


@pytest.mark.parametrize("wrapper, output", [(SetItem, None), (Overwritten, "cls"), (Updated, None), (Popped, None)])
def test_a_list_or_dict_changed_after_it_is_built_is_not_read_by_its_first_items(wrapper, output):
    """review30: following a built list or dict to its items read `out = [p, z]; out[0] = z * 2.0; return out[0]` as
    the sigmoid p, and a logit of a value that is not a probability was explained; a changed container is not read."""
    assert kind(torch.jit.script(wrapper().eval()), output) == "other"


def test_exported_programs_and_their_fixed_batch_wrapper_are_read():
    x = torch.zeros(2, 4, 50)
    program = torch.export.export(ModuleSigmoid().eval(), (x,))
    assert kind(program.module()) == "sigmoid"
    assert kind(FixedBatch(program.module(), 2)) == "sigmoid"
    assert kind(torch.export.export(Logits().eval(), (x,)).module()) == "other"


def test_the_transform_is_chosen_only_where_the_user_left_it_open():
    model = ModuleSigmoid()
    assert choose_transform(model, Target(), "grad_x_input").transform == "logit"
    assert choose_transform(model, Target(transform="none"), "grad_x_input").transform == "none"
    assert choose_transform(Logits(), Target(), "ism").transform == "none"
    assert choose_transform(model, Target(), "deepshap").transform == "none"  # its rules cannot take a transform
    assert choose_transform(Logits(), Target(transform="logit"), "ig").transform == "logit"


def _world(tmp_path):
    rng = np.random.default_rng(3)
    sequence = "".join(rng.choice(list("ACGT"), 3000))
    (tmp_path / "g.fa").write_text(">chr1\n" + sequence + "\n")
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{s}\t{s + 200}\n" for s in range(100, 2700, 400)))
    return tmp_path / "g.fa", tmp_path / "r.bed"


def test_a_run_of_a_sigmoid_model_explains_and_records_the_logit(tmp_path):
    genome, regions = _world(tmp_path)
    model = ModuleSigmoid().eval()
    path = tmp_path / "model.pt"
    torch.jit.script(model).save(str(path))
    out = tmp_path / "out"
    record = run_attribute(str(genome), str(regions), str(path), str(out), AttributeOptions(), progress=False,
                           peaks=False)
    assert record["target"]["transform"] == "logit"
    assert json.loads((out / "run.json").read_text())["target"]["transform"] == "logit"
    assert "logit" in target_text(record["target"])
    # the stored hypothetical contributions of region 0 are the gradient of the logit (task 0), not of p
    stored = region_arrays(out / "attributions.npz", ["hypothetical"]).region(0)["hypothetical"]
    x = torch.from_numpy(one_hot_encode(Genome(str(genome)).fetch("chr1", 100, 300))[None].astype(np.float32))
    x.requires_grad_(True)
    model.logits(x)[0, 0].backward()
    gradient = x.grad[0].numpy()
    corrected = gradient - gradient.mean(axis=0, keepdims=True)  # the default gradient correction (--correct)
    assert np.allclose(stored, corrected, atol=1e-5)
    probability = torch.sigmoid(model.logits(x)[0, 0]).item()
    assert not np.allclose(stored, corrected * probability * (1 - probability), atol=1e-5)
    # the evaluation and the seqlet check re-run the model with the recorded target
    assert run_inputs(out, None, 0)[4].transform == "logit"


class Saturated(nn.Module):
    """A sigmoid whose logit is far beyond float32's resolution of p: p is exactly 1."""

    def forward(self, x):
        return torch.sigmoid(x.sum(dim=(1, 2))[:, None] * 0.0 + 40.0)


class SaturatedTwice(nn.Module):
    """:class:`Saturated` whose returned probability is also used elsewhere, so its graph is not rewritten."""

    def forward(self, x):
        p = torch.sigmoid(x.sum(dim=(1, 2))[:, None] * 0.0 + 40.0).squeeze(-1)
        return p, p * 2.0


def test_a_saturated_sigmoid_is_explained_from_its_input(tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main

    genome, regions = _world(tmp_path)
    path = tmp_path / "saturated.pt"
    torch.jit.script(Saturated().eval()).save(str(path))
    result = CliRunner().invoke(main, ["attribute", str(genome), str(regions), "--model", str(path), "-o",
                                       str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output  # the logit 40 is the sigmoid's input, not logit(1.0)
    import pandas as pd

    predictions = pd.read_csv(tmp_path / "out" / "regions.tsv", sep="\t")["prediction"]
    assert np.allclose(predictions, 40.0)


def test_a_saturated_sigmoid_stops_with_one_line_that_says_what_to_do(tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main

    genome, regions = _world(tmp_path)
    path = tmp_path / "saturated.pt"
    torch.jit.script(SaturatedTwice().eval()).save(str(path))
    result = CliRunner().invoke(main, ["attribute", str(genome), str(regions), "--model", str(path), "-o",
                                       str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "transform=none" in result.output and "sigmoid" in result.output
    done = CliRunner().invoke(main, ["attribute", str(genome), str(regions), "--model", str(path), "-o",
                                     str(tmp_path / "out2"), "--target", "0,transform=none", "-q"])
    assert done.exit_code == 0, done.output


class SigmoidProfile(Body):
    """A profile of probabilities (N, 1, L): the target sums it over positions."""

    def forward(self, x):
        return torch.sigmoid(self.conv(x)[:, :1])


def test_a_profile_of_probabilities_reduced_over_positions_keeps_the_probability(tmp_path):
    genome, regions = _world(tmp_path)
    path = tmp_path / "profile.pt"
    torch.jit.script(SigmoidProfile().eval()).save(str(path))
    record = run_attribute(str(genome), str(regions), str(path), str(tmp_path / "out"),
                           AttributeOptions(target="axis=1"), progress=False, peaks=False)
    assert record["target"]["transform"] == "none"  # the logit of a sum of 200 probabilities (> 1) does not exist
    assert chosen_transform(SigmoidProfile(), Target(axis=1), "grad_x_input", 200) == "none"
    assert chosen_transform(ModuleSigmoid(), Target(), "grad_x_input", 200) == "logit"


def test_evaluate_explains_deepshap_on_the_probability_of_a_logit_run(tmp_path, caplog):
    from seqsal.evaluate_inputs import method_target

    assert method_target("deepshap", Target(transform="logit")).transform == "none"
    assert method_target("ig", Target(transform="logit")).transform == "logit"


class SigmoidsCatenated(Body):
    """fresh24: a sigmoid per task, joined with torch.cat: every column a probability."""

    def forward(self, x):
        z = self.logits(x)
        return torch.cat([torch.sigmoid(z[:, 0:1]), torch.sigmoid(z[:, 1:2])], dim=1)


class RegressionAndSigmoidStacked(Body):
    """fresh24: task 0 a regression, task 1 a probability, stacked: only task 1's logit is explained."""

    def forward(self, x):
        z = self.logits(x)
        return torch.stack([z[:, 0], torch.sigmoid(z[:, 1])], dim=1)


class RegressionAndSigmoidCatenated(Body):
    def forward(self, x):
        z = self.logits(x)
        return torch.cat([z[:, :1], z[:, 1:].sigmoid()], 1)


class SigmoidsCatenatedByKeyword(Body):
    """review25: the list given as `tensors=`, which the graph holds as a keyword."""

    def forward(self, x):
        z = self.logits(x)
        return torch.cat(tensors=[torch.sigmoid(z[:, 0:1]), torch.sigmoid(z[:, 1:2])], dim=1)


class RegressionAndSigmoidHstacked(Body):
    """review25: hstack / column_stack join along axis 1 without a dim argument."""

    def forward(self, x):
        z = self.logits(x)
        return torch.hstack([z[:, :1], torch.sigmoid(z[:, 1:])])


class RegressionAndSigmoidColumnStacked(Body):
    def forward(self, x):
        z = self.logits(x)
        return torch.column_stack([z[:, 0], torch.sigmoid(z[:, 1])])


class WideRegressionAndSigmoid(Body):
    """Parts of unknown widths: which columns are probabilities cannot be read, so none is transformed (a warning)."""

    def forward(self, x):
        z = self.logits(x)
        return torch.cat([z, torch.sigmoid(z[:, 1:])], dim=1)


@pytest.mark.parametrize("script", [False, True])
def test_a_sigmoid_per_task_joined_by_cat_or_stack_is_found_per_task(script, caplog):
    caplog.set_level("INFO", logger="seqsal")

    def chosen(cls, task):
        model = cls().eval()
        return chosen_transform(torch.jit.script(model) if script else model, Target(task=task), "grad_x_input", 50)

    assert kind(SigmoidsCatenated()) == "sigmoid"
    assert [chosen(SigmoidsCatenated, task) for task in (0, 1)] == ["logit", "logit"]
    assert [chosen(SigmoidsCatenatedByKeyword, task) for task in (0, 1)] == ["logit", "logit"]
    for model in (RegressionAndSigmoidStacked, RegressionAndSigmoidCatenated, RegressionAndSigmoidHstacked,
                  RegressionAndSigmoidColumnStacked):
        assert [chosen(model, task) for task in (None, 0, 1, -1)] == ["none", "none", "logit", "logit"], model
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert chosen(WideRegressionAndSigmoid, 2) == "none"
    assert any("joins probabilities with other values" in r.getMessage() and "--target 2,transform=logit" in
               r.getMessage() and "\ue000" not in r.getMessage() for r in caplog.records if r.levelname == "WARNING")

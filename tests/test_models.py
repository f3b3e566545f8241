import json
import os
import pickle

import pytest
import torch

import seqsal
from seqsal.errors import InputError
from seqsal.models import load_model, save_model


def _same_outputs(a, b, length=200):
    x = torch.rand(3, 4, length)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


def test_safetensors_is_self_describing(tiny_model):
    path, model = tiny_model
    loaded = load_model(path)
    assert loaded.source == "seqsal" and loaded.input_length == 200
    assert loaded.task_names == ["open", "enhancer"]
    assert loaded.description["architecture"] == "basset"
    assert all(not p.requires_grad for p in loaded.module.parameters())
    _same_outputs(model, loaded.module)


def test_torchscript_with_and_without_metadata(tiny_model, tmp_path):
    _, model = tiny_model
    save_model(model, tmp_path / "m.ts", format="torchscript")
    loaded = load_model(tmp_path / "m.ts")
    assert loaded.source == "torchscript" and loaded.input_length == 200
    _same_outputs(model, loaded.module)
    torch.jit.save(torch.jit.trace(model, torch.zeros(1, 4, 200)), tmp_path / "plain.pt")
    plain = load_model(tmp_path / "plain.pt")
    assert plain.source == "torchscript" and plain.input_length is None


def test_torch_export_archive(tiny_model, tmp_path):
    _, model = tiny_model
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.zeros(2, 4, 200),), dynamic_shapes={"x": {0: batch}})
    torch.export.save(program, tmp_path / "m.pt2")
    loaded = load_model(tmp_path / "m.pt2")
    assert loaded.source == "export" and loaded.input_length == 200
    _same_outputs(model, loaded.module)
    attr = seqsal.attribute(loaded.module, torch.rand(2, 4, 200))
    assert attr.shape == (2, 4, 200)


def test_state_dict_needs_architecture(tiny_model, tmp_path):
    _, model = tiny_model
    torch.save(model.state_dict(), tmp_path / "w.pt")
    (tmp_path / "config.json").write_text(json.dumps(model.config))
    with pytest.raises(InputError, match="also pass architecture"):
        load_model(tmp_path / "w.pt")
    loaded = load_model(tmp_path / "w.pt", architecture="basset", config=tmp_path / "config.json")
    _same_outputs(model, loaded.module)
    with pytest.raises(InputError, match="do not fit"):
        load_model(tmp_path / "w.pt", architecture="basset", config={"input_length": 200})


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("via", ["pickle", "torch"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, via):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    if via == "pickle":
        path.write_bytes(pickle.dumps(Evil(marker)))
    else:
        torch.save({"weights": Evil(marker)}, path)
    with pytest.raises(InputError, match="refusing to unpickle"):
        load_model(path)
    assert not marker.exists()


def test_pickled_module_is_refused_with_conversion_hint(tiny_model, tmp_path):
    _, model = tiny_model
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(InputError, match="torch.jit.save"):
        load_model(tmp_path / "whole.pt")


def test_missing_and_truncated_files(tiny_model, tmp_path):
    path, _ = tiny_model
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "nope.pt")
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot load model"):
        load_model(tmp_path / "cut.safetensors")
    ts = tmp_path / "m.ts"
    save_model(tiny_model[1], ts, format="torchscript")
    blob = ts.read_bytes()
    (tmp_path / "cut.ts").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError):
        load_model(tmp_path / "cut.ts")


def test_bpnet_roundtrip(tmp_path):
    model = seqsal.BPNet(n_filters=8, n_layers=3, n_tasks=2, trimming=20).eval()
    save_model(model, tmp_path / "bp.safetensors")
    loaded = load_model(tmp_path / "bp.safetensors")
    assert loaded.input_length is None
    x = torch.rand(2, 4, 300)
    with torch.no_grad():
        for a, b in zip(model(x), loaded.module(x)):
            torch.testing.assert_close(a, b)


def test_a_config_asking_for_more_than_the_weights_is_refused_before_allocating(tiny_model, tmp_path):
    """A self-describing file whose config would build a ~300 GB model (its weights are a few kB) is refused
    from the shapes alone: the model is sized on the meta device before anything is allocated."""
    import resource
    from safetensors.torch import save_file

    _, model = tiny_model
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    config = {**model.config, "channels": [100_000, 100_000]}
    meta = {"architecture": "basset", "config": config, "input_length": 200, "task_names": None}
    path = tmp_path / "hostile.safetensors"
    save_file(state, str(path), metadata={"seqsal": json.dumps(meta)})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match=r"do not fit architecture 'basset'.*in the file, the config makes it"):
        load_model(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing near the config's size
    meta["config"] = {**model.config, "no_such_option": 1}
    save_file(state, str(path), metadata={"seqsal": json.dumps(meta)})
    with pytest.raises(InputError, match="config of architecture 'basset' is not valid"):
        load_model(path)


# ----------------------------------------------------------------------------- issue 15: messages of --model
@pytest.mark.parametrize("text, looks_like", [
    (b">chr1\nACGTACGT\n", "a FASTA file (the genome goes first"),
    (b"\xef\xbb\xbf> chr1 description\nACGT\n", "a FASTA file"),
    (b"chr1\t10\t20\tname\n", "a tab-separated table (a BED file?"),
    (b"track name=x\nchr1\t1\t2\n", "a BED file"),
    (b"MEME version 4\n\nALPHABET= ACGT\n", "a MEME motif file"),
    (b'{"input_length": 200}\n', "JSON (an architecture config goes to --model-config)"),
    (b"hello\n", "plain text"),
])
def test_a_text_file_as_model_says_what_it_is(tmp_path, text, looks_like):
    """Issue 15 item 9: a FASTA given as --model read "refusing to unpickle ..." cut mid-sentence."""
    path = tmp_path / "model.pt"
    path.write_bytes(text)
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: this is a text file, not a model: it looks like {looks_like}")
    assert message.endswith("model_config)") and "unpickle" not in message


def test_an_empty_model_file(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(InputError, match="the model file is empty; pass a model file"):
        load_model(tmp_path / "m.pt")


def test_model_not_found_says_what_to_do(tmp_path):
    with pytest.raises(InputError) as info:
        load_model(tmp_path / "nope.pt")
    assert str(info.value) == (f"{tmp_path / 'nope.pt'}: model file not found; pass the path of a model file (seqsal "
                               ".safetensors, TorchScript .pt, torch.export .pt2, or a state_dict with "
                               "architecture/model_config) with model_path")


def test_pickle_refusal_is_whole_sentences_and_names_the_object(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weights": Evil(tmp_path / "pwned")}, path)
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert "holds Python objects (e.g. posix.system)" in message or "holds Python objects (e.g. os.system)" in message
    assert message.endswith("pass architecture/model_config") and "detail:" not in message

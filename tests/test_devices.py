"""Devices and precision (:mod:`seqsal.devices`)."""
import pytest
import torch
from torch import nn

from seqsal.devices import (_float32_settings, autocast_dtype_for, cuda_index, device_for, device_mismatch,
                            exported_module, full_float32, model_home, on_device, placed, precision_context,
                            select_device)
from seqsal.errors import InputError


def test_device_and_precision_choices():
    assert select_device("cpu").type == "cpu"
    assert select_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            select_device("cuda")
    assert autocast_dtype_for("fp32", torch.device("cpu")) is None
    assert autocast_dtype_for("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(InputError, match='precision="fp16" needs a GPU'):
        autocast_dtype_for("fp16", torch.device("cpu"))


def test_on_device():
    cpu = torch.device("cpu")
    assert on_device(nn.Linear(3, 1), cpu)
    assert not on_device(nn.ReLU(), cpu)  # nothing to check: a module with no tensors is moved anyway
    assert not on_device(nn.Linear(3, 1).to(torch.float64).to("meta"), cpu)


def _switches():
    return [getattr(holder, name) for holder, name, _ in _float32_settings()]


FULL = [value for _, _, value in _float32_settings()]


def test_fp32_on_a_gpu_turns_tf32_off_while_the_model_runs_and_restores_it():
    # an H200 ran "fp32" grad x input with cuDNN's default TF32 convolutions: 18 % of the map's largest value off
    # the CPU's (benchmarks/gpu_check.sh); only the settings are touched, so this runs without a GPU
    cuda, before = torch.device("cuda"), _switches()
    assert before != FULL  # PyTorch's default lets cuDNN convolutions use TF32
    with pytest.raises(ValueError):
        with precision_context(cuda, None):
            assert _switches() == FULL
            with precision_context(cuda, None):  # nested: the inner end restores nothing
                pass
            assert _switches() == FULL
            raise ValueError
    assert _switches() == before
    with precision_context(torch.device("cpu"), None):
        assert _switches() == before  # nothing to change on the CPU
    with precision_context(torch.device("cpu"), torch.bfloat16):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")


def test_a_users_matmul_precision_is_kept_and_still_readable():
    # review32: the legacy flags set after torch.set_float32_matmul_precision("high") (what torch.compile and
    # Lightning advise on a GPU) left get_float32_matmul_precision raising for the rest of the process
    saved = torch.get_float32_matmul_precision()
    try:
        for setting in ("high", "medium", "highest"):
            torch.set_float32_matmul_precision(setting)
            with full_float32():
                pass
            assert torch.get_float32_matmul_precision() == setting
    finally:
        torch.set_float32_matmul_precision(saved)


def test_float32_blocks_in_two_threads_restore_the_settings_once_both_end():
    # review32: a thread's "fp32" batch ran with TF32 on (the other thread's block, ending first, restored it),
    # then TF32 stayed off for the process
    import threading
    before, inside = _switches(), []
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with full_float32():
            first_in.set()
            second_in.wait()
        first_out.set()

    def second():
        first_in.wait()
        with full_float32():
            second_in.set()
            first_out.wait()  # the first block has ended: this one still runs in full float32
            inside.append(_switches())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert inside == [FULL] and _switches() == before


def test_the_dispatcher_runs_the_model_inside_the_precision_context(monkeypatch):
    import seqsal
    from seqsal.methods import dispatch
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 1, 3)

        def forward(self, x):
            seen.append(_switches())
            return self.conv(x).mean(-1)

    real = dispatch.precision_context
    monkeypatch.setattr(dispatch, "precision_context", lambda device, dtype: real(torch.device("cuda"), dtype))
    seqsal.attribute(Probe(), torch.eye(4)[torch.randint(0, 4, (2, 20))].permute(0, 2, 1), "grad_x_input")
    assert seen and seen[-1] == FULL  # the attribution pass (the gradient check before it probes in float64 anyway)


class Recording(nn.Module):
    """Records where ``.to`` sends it, without moving (there is no GPU here)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.moves = []

    def to(self, *args, **kwargs):
        self.moves.append(torch.device(args[0]))
        return self


@pytest.fixture
def one_gpu(monkeypatch):
    """A machine that says it has one CUDA GPU (what select_device and cuda_index ask), for code paths that only
    choose a device."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def test_a_model_placed_on_the_gpu_goes_back_where_it_was(one_gpu):
    # an H200 (session 32): iter_region_attributions left a notebook's CPU model where it was and fed it GPU
    # tensors; iter_attributions moved the caller's model to the GPU and left it there
    model = Recording()
    with pytest.raises(ValueError):
        with placed(model, torch.device("cuda")):
            assert model.moves == [torch.device("cuda")]
            raise ValueError
    assert model.moves == [torch.device("cuda"), torch.device("cpu")]
    model.moves.clear()
    with placed(model, torch.device("cpu")):  # there already
        pass
    assert model.moves == []
    exported = _exported()
    with placed(exported, torch.device("cuda")):  # an exported program is never moved (it would fail)
        assert model_home(exported).type == "cpu"


def test_two_runs_sharing_a_model_keep_it_placed_until_the_last_ends(one_gpu):
    # review32: two interleaved iterations over one model: the first to end moved it back under the other
    model, cuda = Recording(), torch.device("cuda")
    first, second = placed(model, cuda), placed(model, cuda)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert model.moves == [cuda]  # still on the GPU: the second run goes on
    second.__exit__(None, None, None)
    assert model.moves == [cuda, torch.device("cpu")]


def test_a_move_that_fails_part_way_puts_the_model_back(one_gpu):
    class Fails(Recording):
        def to(self, *args, **kwargs):
            super().to(*args, **kwargs)
            if len(self.moves) == 1:
                raise RuntimeError("CUDA out of memory")
            return self

    model = Fails()
    with pytest.raises(RuntimeError, match="out of memory"):
        with placed(model, torch.device("cuda")):
            pass
    assert model.moves == [torch.device("cuda"), torch.device("cpu")]
    with placed(model, torch.device("cuda")):  # and the next run is not told it is placed already
        pass
    assert model.moves[2:] == [torch.device("cuda"), torch.device("cpu")]


def _exported() -> nn.Module:
    """The module of a program torch.export made on the CPU."""
    return torch.export.export(nn.Sequential(nn.Conv1d(4, 2, 3)).eval(), (torch.zeros(2, 4, 20),)).module()


def test_an_exported_program_runs_where_it_is_unless_a_device_is_named(one_gpu):
    model = _exported()  # on the CPU, as torch.export left it
    assert device_for(None, model).type == "cpu" and device_for("auto", model).type == "cpu"
    assert device_for(None, nn.Linear(4, 1)).type == "cuda"
    with pytest.raises(InputError, match=r"runs on cpu, where it was exported, .* give device=\"cpu\""):
        device_for("cuda", model)
    assert device_for("cpu:0", model).type == "cpu"  # review32: refused (an index on the CPU)


def test_a_gpu_memory_cap_names_the_device_by_index(one_gpu, monkeypatch):
    # torch 2.11 on an H200: set_per_process_memory_fraction(f, torch.device("cuda")) raised ValueError, so every
    # --max-memory run on "cuda" (no index) failed
    from seqsal import engine
    calls = []

    def needs_index(*args):
        if not all(isinstance(arg, (int, float)) for arg in args):
            raise ValueError("Expected a torch.device with a specified index or an integer, but got:cuda")
        calls.append(args)

    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", needs_index)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda *args: needs_index(*args) or 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda *args: needs_index(*args) or type("P", (), {"total_memory": 8 << 30}))
    assert engine._cap_gpu(torch.device("cuda"), "2G")
    assert calls[-1] == (0.25, 0)  # "2G" is 2 GiB
    assert cuda_index(torch.device("cuda:3")) == 3


@pytest.mark.parametrize("text", [
    "Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the same",
    "Expected all tensors to be on the same device, but got mat2 is on cpu, different from other tensors on cuda:0",
    "The following operation failed in the TorchScript interpreter.\nTraceback ...\nRuntimeError: Expected all "
    "tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
    "Tensor device mismatch! Expected: cpu, Got: cuda:0",
])
def test_a_model_holding_a_tensor_elsewhere_is_told_so_not_sent_to_its_input_length(text):
    # on an H200 these read "check the sequence length L the model was built for" / "give --window"
    message = device_mismatch(RuntimeError(text), torch.device("cuda:0"))
    assert message.startswith("the model fails on cuda:0 (") and "register_buffer" in message
    assert "TorchScript interpreter" not in message
    assert device_mismatch(RuntimeError(text), torch.device("cpu")) is None
    assert device_mismatch(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), torch.device("cuda")) is None
    dtype = "Input type (torch.FloatTensor) and weight type (torch.DoubleTensor) should be the same"  # review32
    assert device_mismatch(RuntimeError(dtype), torch.device("cuda:0")) is None


def test_the_module_of_an_exported_program_passed_directly_stays_where_it_was_exported(one_gpu):
    # an H200 (session 32): ExportedProgram.module() given to seqsal.attribute was moved to the GPU and failed
    exported = _exported()
    assert exported_module(exported) and device_for(None, exported).type == "cpu"
    assert exported_module(nn.Sequential(exported))  # review32: wrapped, it was moved
    assert not exported_module(nn.Conv1d(4, 2, 3)) and not exported_module(torch.jit.script(nn.Conv1d(4, 2, 3)))


def test_a_loaded_pt2_is_known_as_exported(tmp_path):
    # the pipeline used to ask the file's format; now devices.exported_module asks the module, marked on loading
    import seqsal
    program = torch.export.export(nn.Sequential(nn.Conv1d(4, 1, 3), nn.Flatten(), nn.Linear(18, 1)).eval(),
                                  (torch.zeros(2, 4, 20),))
    torch.export.save(program, tmp_path / "m.pt2")
    loaded = seqsal.load_model(tmp_path / "m.pt2")
    assert loaded.source == "export" and exported_module(loaded.module)

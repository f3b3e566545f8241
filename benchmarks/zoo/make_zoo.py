"""Build the calibration zoo of issue 13: two synthetic worlds, six models trained on them, SpliceAI.

Run from the repository root (deterministic for a given thread count; 12 minutes on the 2-core machine when
it was quiet, 30-45 minutes while other jobs ran; README.md)::

    python benchmarks/zoo/make_zoo.py [--out benchmarks/zoo/build] [--only NAME ...] [--large] [--no-spliceai]

Writes ``<out>/worlds/{A,B}/`` (``worlds.py``), ``<out>/<model>/`` for every model (``model.pt``
TorchScript; for the seqsal built-in architectures also ``model.safetensors`` (a plain state_dict) and
``config.json``; ``card.json``), ``<out>/spliceai/`` (``spliceai.py``) and ``<out>/zoo.json`` (every card).
Each card holds the ``seqsal attribute`` arguments to use (``cli``), the held-out accuracy and which planted
motifs the model uses (``evaluation.py``).
"""
from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared, oversubscribed machine spinning threads burned
# 5x the CPU per training step (measured: 672 vs 140 ms CPU a step of rcmaxpool_A with 2 threads). Must be
# set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import architectures as arch  # noqa: E402
import evaluation as ev  # noqa: E402
import training as tr  # noqa: E402
from worlds import (BUILD, WORLDS, World, build_all, build_world, default_regions, save_atomically,  # noqa: E402
                    write_if_changed)

log = logging.getLogger("zoo")
THREADS = 2


@dataclass
class ZooModel:
    """One zoo entry: what to build, how to train it, how to explain it."""

    name: str
    world: str
    window: int
    kind: str  # regression | classifier | profile
    build: Callable[[], nn.Module]
    steps: int
    batch_size: int
    description: str
    targets: dict[str, str] = field(default_factory=lambda: {"0": "the predicted activity (task 0)"})
    learning_rate: float = 2e-3
    trimming: int = 0
    builtin: str | None = None  # seqsal built-in architecture name: also shipped as state_dict + config
    rc_augment: bool = True
    threshold: float = 0.5  # classifier: active when the noise-free activity >= threshold
    n_held_out: int = 2000
    counts_weight: float = 10.0  # profile models: weight of the counts MSE in BPNet's loss
    crop: tuple[int, int] | None = None  # (length, batch size): train on crops first (fully convolutional models)
    seed: int = 0


ZOO = [
    ZooModel("basset_B", "B", 500, "regression", lambda: arch.basset(500), steps=1200, batch_size=64,
             builtin="basset", description="Basset-like CNN with small pools (conv 32x15, 32x7, 32x5; max-pool 2 "
             "after each; dense 64): seqsal's BassetCNN, 500-bp windows, regression of the window's activity"),
    ZooModel("rcmaxpool_A", "A", 1000, "regression", arch.RCMaxPoolCNN, steps=2000, batch_size=32,
             learning_rate=3e-3, rc_augment=False,
             description="issue 13's model: RC weight-tied conv 64x19 -> BatchNorm -> ReLU -> strand max -> "
             "max-pool 50 -> global max + mean -> dense 64 -> 1; 1-kb windows; 13k parameters; exactly "
             "RC-invariant; sparse, spiky gradients"),
    ZooModel("conjoined_rc_B", "B", 500, "regression", arch.ConjoinedRCCNN, steps=1200, batch_size=32,
             learning_rate=3e-3, rc_augment=False,
             description="conjoined reverse-complement CNN: (g(x) + g(rc x)) / 2, g = conv 64x15 -> ReLU -> "
             "max-pool 2 -> dilated convs (dilation 2, 4) -> mean -> dense; 500-bp windows"),
    ZooModel("bpnet_A", "A", 600, "profile", arch.bpnet, steps=800, batch_size=32, builtin="bpnet", trimming=150,
             counts_weight=50.0,
             targets={"output=0,task=0,reduce=bpnet": "profile head, BPNet's softmax-weighted profile",
                      "output=1,task=0": "counts head (log total reads)"},
             description="BPNet-style dilated residual CNN (seqsal's BPNet: 24 filters, 5 dilated layers, "
             "profile kernel 75), input 600 bp, profile and counts of the central 300 bp; reads simulated "
             "as Laplace bumps at active units (repressors scale the window down), Poisson noise"),
    ZooModel("sigmoid_A", "A", 500, "classifier", arch.SigmoidClassifier, steps=2000, batch_size=64,
             targets={"0": "the predicted probability of 'active' (the model returns sigmoid(logit))"},
             description="classifier with a sigmoid inside: conv 48x15 -> BN -> ReLU -> max-pool 4 -> conv 48x7 "
             "-> BN -> ReLU -> global max + mean -> dense 32 -> 1 -> sigmoid; trained with BCE on active "
             "(activity >= 0.5) vs inactive 500-bp windows; returns the probability"),
    ZooModel("dilated10k_B", "B", 10_000, "regression", arch.DilatedResidualCNN, steps=1500, batch_size=8,
             crop=(1000, 32), learning_rate=3e-3, n_held_out=300,
             targets={"0": "the predicted activity per kb of the 10-kb window (task 0)"},
             description="long-window dilated residual CNN: conv 32x15 -> BN -> ReLU -> avg-pool 8 -> 6 "
             "residual blocks (kernel 3, dilation 1-32 at 8 bp) -> mean -> dense; 10,000-bp windows; predicts "
             "the activity per kb of its window (fully convolutional: trained on 1-kb crops first, the last "
             "15 % of the steps on 10-kb windows)"),
]


def batches(entry: ZooModel, world: World, one_hot: dict, rng: np.random.Generator) -> Callable[[], tr.Batch]:
    """The training batch generator of ``entry`` (genome + simulated chromosomes, see training.py)."""
    sources = tr.Sources(world, one_hot, rng, size=max(150_000, 20 * entry.window))
    noise = world.spec.noise_sd
    if entry.kind == "profile":
        return lambda: tr.profile_batch(sources(), entry.window, entry.trimming, entry.batch_size, rng,
                                        rc=entry.rc_augment)
    if entry.kind == "classifier":
        def classify() -> tr.Batch:
            batch = tr.regression_batch(sources(), entry.window, entry.batch_size, rng, rc=entry.rc_augment,
                                        noise_sd=noise)
            return tr.Batch(batch.x, (batch.y >= entry.threshold).float())
        return classify
    if entry.crop is None:
        return lambda: tr.regression_batch(sources(), entry.window, entry.batch_size, rng, rc=entry.rc_augment,
                                           noise_sd=noise)
    crop, crop_batch = entry.crop
    calls = [0]

    def cropped() -> tr.Batch:
        # element-rich crops first (more supervision per base: the model learns its motifs many times faster),
        # the last 15 % of the steps on full windows; the target is the activity per kb at every length
        calls[0] += 1
        if calls[0] <= 0.85 * entry.steps:
            batch = tr.regression_batch(sources(), crop, crop_batch, rng, rc=entry.rc_augment, noise_sd=noise)
            return tr.Batch(batch.x, batch.y * (1000 / crop))
        batch = tr.regression_batch(sources(), entry.window, entry.batch_size, rng, rc=entry.rc_augment,
                                    element_fraction=0.0, noise_sd=noise)
        return tr.Batch(batch.x, batch.y * (1000 / entry.window))
    return cropped


def held_out(entry: ZooModel, model: nn.Module, world: World, one_hot: dict) -> dict:
    """The held-out accuracy of ``entry`` (see evaluation.py)."""
    if entry.kind == "profile":
        return ev.held_out_profile(model, world, one_hot, entry.window, entry.trimming, entry.n_held_out)
    if entry.kind == "classifier":
        return ev.held_out_classifier(model, world, one_hot, entry.window, entry.n_held_out, entry.threshold)
    return ev.held_out_regression(model, world, one_hot, entry.window, entry.n_held_out)


def export(entry: ZooModel, model: nn.Module, folder: Path) -> dict:
    """Write ``model.pt`` (TorchScript) and, for built-ins, ``model.safetensors`` + ``config.json``; checks that
    the TorchScript file reproduces the model. Returns the card's ``files``, ``cli`` and
    ``torchscript_max_abs_difference`` entries."""
    from safetensors.torch import save_file

    scripted = torch.jit.script(model)
    save_atomically(folder / "model.pt", lambda path: torch.jit.save(scripted, path))
    probe = torch.nn.functional.one_hot(torch.as_tensor(np.random.default_rng(0).integers(0, 4, (4, entry.window))),
                                        4).permute(0, 2, 1).float()
    with torch.no_grad():
        mine, theirs = model(probe), torch.jit.load(str(folder / "model.pt"))(probe)
    mine, theirs = (mine if isinstance(mine, tuple) else (mine,)), (theirs if isinstance(theirs, tuple) else (theirs,))
    difference = max(float((a - b).abs().max()) for a, b in zip(mine, theirs))
    scale = max(float(a.abs().max()) for a in mine)
    if difference > 1e-4 * max(1.0, scale):  # float reordering only (the scripted graph may pick other kernels)
        raise RuntimeError(f"{entry.name}: the TorchScript export differs from the model by {difference:g}")
    files = {"torchscript": "model.pt"}
    cli = {"model": "model.pt", "args": ["--window", str(entry.window)]}
    if entry.builtin:
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_atomically(folder / "model.safetensors", lambda path: save_file(state, path))
        write_if_changed(folder / "config.json", json.dumps(model.config, indent=2) + "\n")
        files |= {"state_dict": "model.safetensors", "config": "config.json"}
        extra = [] if entry.builtin == "basset" else ["--window", str(entry.window)]
        cli["alternative"] = {"model": "model.safetensors",
                              "args": ["--architecture", entry.builtin, "--model-config", "config.json", *extra]}
    return {"files": files, "cli": cli, "torchscript_max_abs_difference": difference}


def start_at_mean(model: nn.Module, batch: tr.Batch) -> None:
    """Set the bias of the model's last Linear layer to the mean target of ``batch`` (a regression then starts
    at the right level instead of spending its first steps on it; matters for the 10-kb windows, mean ~9)."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        last.bias.fill_(float(batch.y.mean()))


@functools.lru_cache(maxsize=2)
def world_of(name: str) -> World:
    """The built world ``name`` (cached: building takes seconds)."""
    return build_world(WORLDS[name])


def build_model(entry: ZooModel, out: Path, steps_factor: float = 1.0) -> dict:
    """Train, export and evaluate one zoo model into ``out/<name>/``; returns its card (paths in it are
    relative to its folder)."""
    torch.manual_seed(entry.seed)
    world = world_of(entry.world)
    one_hot = tr.genome_one_hot(world)
    rng = np.random.default_rng([WORLDS[entry.world].seed, 100, entry.seed])
    model = entry.build()
    next_batch = batches(entry, world, one_hot, rng)
    if entry.kind == "regression":
        start_at_mean(model, next_batch())
    log.info("%s: %d parameters, training %d steps x %d windows of %d bp", entry.name,
             arch.parameter_count(model), entry.steps, entry.batch_size, entry.window)
    loss = {"regression": "mse", "classifier": "bce", "profile": "bpnet"}[entry.kind]
    training = tr.train(model, next_batch, loss, max(1, int(entry.steps * steps_factor)), entry.learning_rate,
                        seed=entry.seed, counts_weight=entry.counts_weight)
    folder = out / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    files = export(entry, model, folder)
    accuracy = held_out(entry, model, world, one_hot)
    regions = default_regions(world)
    windows = ev.region_windows(world, one_hot, regions, entry.window)
    uses, spread, sparsity = {}, {}, {}
    for target in entry.targets:
        values = ev.target_scalar(model, windows, target)
        spread[target] = float(values.std())
        uses[target] = ev.motif_effects(model, world, entry.window, target, spread[target])
        sparsity[target] = round(ev.zero_gradient_fraction(model, windows[:64], target), 4)
    primary = next(iter(entry.targets))
    card = {
        "name": entry.name, "description": entry.description, "architecture": type(model).__name__,
        "world": entry.world, "world_dir": f"../worlds/{entry.world}", "genome": f"../worlds/{entry.world}/genome.fa",
        "regions": f"../worlds/{entry.world}/regions.bed", "window": entry.window, "kind": entry.kind,
        "parameters": arch.parameter_count(model), **files,
        "targets": entry.targets, "target": primary,
        "held_out": accuracy,
        "prediction_sd_over_regions": {t: round(s, 5) for t, s in spread.items()},
        "uses": uses,
        "used_motifs": {t: sorted(m for m, e in u.items() if e["uses"]) for t, u in uses.items()},
        "zero_gradient_fraction": sparsity,
        "rc_max_abs_difference": round(ev.rc_difference(model, windows[:64], primary), 6),
        "training": {**training, "batch_size": entry.batch_size, "learning_rate": entry.learning_rate,
                     **({"counts_weight": entry.counts_weight} if entry.kind == "profile" else {}),
                     "seed": entry.seed, "threads": torch.get_num_threads(),
                     "train_chromosomes": world.spec.train_chroms, "rc_augmentation": entry.rc_augment},
        "evaluation_seconds": round(time.perf_counter() - started, 1),
    }
    write_if_changed(folder / "card.json", json.dumps(card, indent=2) + "\n")
    log.info("%s: held-out %s = %s; uses %s (%.0f s training)", entry.name, accuracy["metric"], accuracy["value"],
             card["used_motifs"], training["seconds"])
    return card


def summary_rows(cards: list[dict]) -> list[str]:
    """Markdown rows: model, world, window, parameters, held-out accuracy, target, motifs used (and not),
    sparsity, RC difference, training wall and CPU seconds."""
    rows = ["| model | world | window | parameters | held-out accuracy | target | uses (>= 0.1 SD) | does not use | "
            "zero grad | rc diff | train s | cpu s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for card in cards:
        if card.get("kind") == "published":
            continue
        accuracy = card["held_out"]
        value = f"{accuracy['metric']} {accuracy['value']}"
        if accuracy.get("profile_median_pearson_r") is not None:
            value += f"; profile r {accuracy['profile_median_pearson_r']}"
        training = card.get("training", {})
        for target in card["targets"]:
            used = card["used_motifs"].get(target, [])
            unused = [m for m in card["uses"].get(target, {}) if m not in used]
            rows.append(f"| {card['name']} | {card['world']} | {card['window']:,} | {card['parameters']:,} | {value} | "
                        f"`{target}` | {', '.join(used) or '-'} | {', '.join(unused) or '-'} | "
                        f"{card['zero_gradient_fraction'].get(target, '-')} | {card['rc_max_abs_difference']:.3g} | "
                        f"{training.get('seconds', '-')} | {training.get('cpu_seconds', '-')} |")
    return rows


def spliceai_rows(card: dict) -> list[str]:
    """Markdown rows of SpliceAI's DOC2B validation."""
    accuracy = card["held_out"]
    rows = ["| site type | annotated sites (hg19, 0-based) | score at each | top-k accuracy | best other base | "
            "other bases > 0.5 |", "| --- | --- | --- | --- | --- | --- |"]
    for kind in ("acceptor", "donor"):
        a = accuracy[kind]
        others = ", ".join(f"{p} ({v})" for p, v in a["other_positions_above_0.5"]) or "-"
        rows.append(f"| {kind} | {', '.join(map(str, a['sites']))} | {', '.join(map(str, a['score_at_sites']))} | "
                    f"{a['top_k_accuracy']} | {a['max_score_elsewhere']} | {others} |")
    rows.append(f"| both | | | **{accuracy['top_k_accuracy']}** | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD)
    parser.add_argument("--only", nargs="*", help="build only these models (names, or 'spliceai')")
    parser.add_argument("--large", action="store_true", help="also write worlds/A_large (5 Mbp of regions)")
    parser.add_argument("--no-spliceai", action="store_true")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--steps-factor", type=float, default=1.0, help="scale every training (quick trials)")
    parser.add_argument("--summary", action="store_true", help="only print the tables of the built cards")
    args = parser.parse_args()
    if args.summary:
        cards = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/card.json"))]
        print("\n".join(summary_rows(cards)))
        for card in cards:
            if card.get("kind") == "published":
                print("\n".join(spliceai_rows(card)))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    worlds_dir = args.out / "worlds"
    build_all(worlds_dir, args.large)
    timings = {"worlds": round(time.perf_counter() - started, 1)}
    for entry in ZOO:
        if args.only and entry.name not in args.only:
            continue
        began = time.perf_counter()
        build_model(entry, args.out, args.steps_factor)
        timings[entry.name] = round(time.perf_counter() - began, 1)
    if not args.no_spliceai and (not args.only or "spliceai" in args.only):
        import spliceai

        began = time.perf_counter()
        spliceai.build(args.out / "spliceai")
        timings["spliceai"] = round(time.perf_counter() - began, 1)
    cards = [json.loads(p.read_text()) for p in sorted(args.out.glob("*/card.json"))]
    timings["total"] = round(time.perf_counter() - started, 1)
    if args.only and (args.out / "zoo.json").exists():  # a partial rebuild keeps the other parts' times
        previous = json.loads((args.out / "zoo.json").read_text()).get("build_seconds", {})
        timings = {**previous, **{k: v for k, v in timings.items() if k != "total"},
                   "last_partial_rebuild": {"parts": args.only, "seconds": timings["total"]}}
    write_if_changed(args.out / "zoo.json", json.dumps({"models": cards, "build_seconds": timings}, indent=2) + "\n")
    print("\n".join(summary_rows(cards)))
    print(f"build times (s): {timings}")


if __name__ == "__main__":
    main()

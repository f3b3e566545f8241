"""SpliceAI-10k (Jaganathan et al. 2019, Cell 176:535) re-expressed in PyTorch, with the published weights.

The ``spliceai`` wheel on PyPI (1.3.1, GPL-3.0 code; the models are the published ones) ships the five
Keras models ``spliceai/models/spliceai{1..5}.h5``. This module reads only arrays and the JSON layer graph
from them with h5py (nothing is unpickled, Keras is not needed), checks that the graph is SpliceAI-10k,
copies the weights into :class:`SpliceAI10k` and checks the PyTorch model against a NumPy evaluation of the
Keras graph itself.

Architecture (``L = 32`` channels; 16 residual units; ``W`` = 11 x 8, 21 x 4, 41 x 4; dilations 1 x 4, 4 x 4,
10 x 4, 25 x 4; context 10,000 bp): input ``(N, 4, L_out + 10000)`` one-hot A, C, G, T (N = zeros) ->
conv 1 -> [residual unit: BN -> ReLU -> dilated conv -> BN -> ReLU -> dilated conv, + input] x 16, with a
1 x 1 conv of the trunk added to a skip sum after every 4th unit (and a 1 x 1 conv of the first conv at
the start) -> crop 5,000 each side -> 1 x 1 conv to 3 -> softmax over (neither, acceptor, donor):
``(N, 3, L_out)``. Keras' ``Conv1D`` kernel ``(k, in, out)`` becomes torch's ``(out, in, k)``; Keras'
BatchNormalization uses ``eps = 1e-3``.

Exported for ``seqsal attribute`` (``build/spliceai/spliceai_centre.pt``): :class:`SpliceSiteScorer`, the
ensemble of the five models (probabilities averaged, as SpliceAI does) scored at the *centre* base of a
10,001-bp input: ``(N, 3)`` log-odds ``[log(p_acceptor / p_neither), log(p_donor / p_neither),
log((p_acceptor + p_donor) / p_neither)]``. With ``--window 10001`` seqsal centres each (shorter) region in
its window, so a region of odd width centred on a base explains that base: ``--target 0`` (acceptor),
``1`` (donor) or ``2`` (either). Minus-strand regions are reverse-complemented by seqsal, as SpliceAI needs.

Validation ("held-out accuracy" of a published model): the DOC2B gene model (UCSC uc010vpx.1, hg19
chr17:6,010-31,420, minus strand, 6 exons) on real hg19 sequence (pyfaidx's test data, chr17:1-40,000):
the acceptor and donor scores at the annotated exon boundaries vs every other base of the gene (top-k
accuracy of Jaganathan et al.: k = number of annotated sites). Also writes ``regions.bed``: the 10 annotated
splice sites of DOC2B as 401-bp minus-strand regions centred on the site.

Run from the repository root::

    python benchmarks/zoo/spliceai.py [--out benchmarks/zoo/build/spliceai] [--wheel FILE.whl]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from seqsal.encode import one_hot_encode, reverse_complement

from worlds import save_atomically, write_if_changed

HERE = Path(__file__).resolve().parent
EXTERNAL = Path("/work/shared/external-inputs/pyfaidx")
FASTA = EXTERNAL / "chr17.hg19.part.fa"
GENE = EXTERNAL / "gene.bed12"
WHEEL = "spliceai-1.3.1-py2.py3-none-any.whl"
WHEEL_SHA256 = "63c633b8de6803d4ffb613e6ef62f1a896fec9fc13245c0f000ff7adea279776"
WIDTHS = [11] * 8 + [21] * 4 + [41] * 4
DILATIONS = [1] * 4 + [4] * 4 + [10] * 4 + [25] * 4
CONTEXT = 10_000
CHANNELS = 32
EPS = 1e-3
CENTRE_WINDOW = CONTEXT + 1
REGION_HALF = 200


class ResidualUnit(nn.Module):
    """SpliceAI's residual unit: ``x + conv2(relu(bn2(conv1(relu(bn1(x))))))`` ('same' dilated convs)."""

    def __init__(self, channels: int, width: int, dilation: int):
        super().__init__()
        padding = dilation * (width - 1) // 2
        self.bn1 = nn.BatchNorm1d(channels, eps=EPS)
        self.conv1 = nn.Conv1d(channels, channels, width, dilation=dilation, padding=padding)
        self.bn2 = nn.BatchNorm1d(channels, eps=EPS)
        self.conv2 = nn.Conv1d(channels, channels, width, dilation=dilation, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.relu(self.bn1(x)))
        return x + self.conv2(torch.relu(self.bn2(h)))


class SpliceAI10k(nn.Module):
    """One SpliceAI-10k network: ``(N, 4, L + 10000)`` -> ``(N, 3, L)`` softmax (neither, acceptor, donor)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, CHANNELS, 1)
        self.skip = nn.Conv1d(CHANNELS, CHANNELS, 1)
        units = [ResidualUnit(CHANNELS, w, d) for w, d in zip(WIDTHS, DILATIONS)]
        self.stages = nn.ModuleList(nn.Sequential(*units[i:i + 4]) for i in range(0, len(units), 4))
        self.dense = nn.ModuleList(nn.Conv1d(CHANNELS, CHANNELS, 1) for _ in self.stages)
        self.out = nn.Conv1d(CHANNELS, 3, 1)
        self.half = CONTEXT // 2

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-softmax scores ``(N, 3, L)``."""
        h = self.conv(x)
        skip = self.skip(h)
        for stage, dense in zip(self.stages, self.dense):
            h = stage(h)
            skip = skip + dense(h)
        return self.out(skip[:, :, self.half:skip.shape[-1] - self.half])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


class SpliceAIEnsemble(nn.Module):
    """The mean of the five SpliceAI-10k models' probabilities, ``(N, 3, L)``, as SpliceAI scores."""

    def __init__(self, models: list[SpliceAI10k]):
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(0)
        for i, model in enumerate(self.models):
            total = model(x) if i == 0 else total + model(x)
        return total / len(self.models)


class SpliceSiteScorer(nn.Module):
    """Log-odds of the ensemble at the centre base of the input: ``(N, 3)``: acceptor, donor, either.

    Input ``(N, 4, L)`` with ``L >= 10001`` and odd (the output position is the centre base).
    """

    def __init__(self, ensemble: SpliceAIEnsemble):
        super().__init__()
        self.ensemble = ensemble

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = self.ensemble(x)
        centre = probabilities[:, :, probabilities.shape[-1] // 2]
        neither = torch.log(centre[:, 0])
        acceptor = torch.log(centre[:, 1]) - neither
        donor = torch.log(centre[:, 2]) - neither
        either = torch.log(centre[:, 1] + centre[:, 2]) - neither
        return torch.stack([acceptor, donor, either], dim=1)


# ---- reading the Keras files (arrays and the JSON graph only) ----

def keras_graph(handle: h5py.File) -> dict[str, tuple[str, dict, list[str]]]:
    """Layer name -> (class name, config, inbound layer names) from the file's ``model_config``."""
    config = handle.attrs["model_config"]
    config = json.loads(config.decode() if isinstance(config, bytes) else config)
    graph = {}
    for layer in config["config"]["layers"]:
        inbound = [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        graph[layer["name"]] = (layer["class_name"], layer["config"], inbound)
    return graph


def keras_weights(handle: h5py.File, name: str) -> dict[str, np.ndarray]:
    """The arrays of layer ``name``, keyed by their short name (``kernel``, ``bias``, ``gamma``, ...)."""
    group = handle["model_weights"][name]
    out = {}
    for full in group.attrs["weight_names"]:
        full = full.decode() if isinstance(full, bytes) else full
        out[full.split("/")[-1].split(":")[0]] = np.asarray(group[full][()], dtype=np.float32)
    return out


def _consumer(graph: dict, source: str, class_name: str, exclude: tuple[str, ...] = ()) -> str:
    found = [n for n, (c, _, inbound) in graph.items() if c == class_name and source in inbound and n not in exclude]
    if len(found) != 1:
        raise ValueError(f"expected one {class_name} fed by {source}, found {found}")
    return found[0]


def trace_layers(graph: dict) -> dict:
    """Walk the Keras graph and name the layer of every role of SpliceAI-10k (raises ValueError otherwise)."""
    first = _consumer(graph, "input_1", "Conv1D")
    units, dense, skip_adds = [], [], []
    skip = next(n for n, (c, cfg, inbound) in graph.items() if c == "Conv1D" and inbound == [first])
    trunk, skip_sum = first, skip
    for i, (width, dilation) in enumerate(zip(WIDTHS, DILATIONS)):
        bn1 = _consumer(graph, trunk, "BatchNormalization")
        conv1 = _consumer(graph, _consumer(graph, bn1, "Activation"), "Conv1D")
        bn2 = _consumer(graph, conv1, "BatchNormalization")
        conv2 = _consumer(graph, _consumer(graph, bn2, "Activation"), "Conv1D")
        for conv in (conv1, conv2):
            config = graph[conv][1]
            if config["kernel_size"] != [width] or config["dilation_rate"] != [dilation] or config["padding"] != "same":
                raise ValueError(f"unit {i + 1}: {conv} is not a {width}-wide, dilation-{dilation} 'same' conv")
        add = next(n for n, (c, _, inbound) in graph.items()
                   if c == "Add" and sorted(inbound) == sorted([conv2, trunk]))
        units.append((bn1, conv1, bn2, conv2))
        trunk = add
        if (i + 1) % 4 == 0:
            conv = next(n for n, (c, cfg, inbound) in graph.items()
                        if c == "Conv1D" and inbound == [trunk] and cfg["kernel_size"] == [1])
            skip_sum = next(n for n, (c, _, inbound) in graph.items()
                            if c == "Add" and sorted(inbound) == sorted([skip_sum, conv]))
            dense.append(conv)
            skip_adds.append(skip_sum)
    crop = _consumer(graph, skip_sum, "Cropping1D")
    if graph[crop][1]["cropping"] != [CONTEXT // 2, CONTEXT // 2]:
        raise ValueError(f"cropping is {graph[crop][1]['cropping']}, expected 5000 each side")
    out = _consumer(graph, crop, "Conv1D")
    if graph[out][1]["activation"] != "softmax" or graph[out][1]["filters"] != 3:
        raise ValueError("the output layer is not a 3-way softmax")
    return {"first": first, "skip": skip, "units": units, "dense": dense, "out": out}


def _set_conv(conv: nn.Conv1d, weights: dict[str, np.ndarray]) -> None:
    kernel = torch.from_numpy(weights["kernel"]).permute(2, 1, 0).contiguous()  # (k, in, out) -> (out, in, k)
    if kernel.shape != conv.weight.shape:
        raise ValueError(f"kernel {tuple(kernel.shape)} does not fit {tuple(conv.weight.shape)}")
    conv.weight.data.copy_(kernel)
    conv.bias.data.copy_(torch.from_numpy(weights["bias"]))


def _set_norm(norm: nn.BatchNorm1d, weights: dict[str, np.ndarray]) -> None:
    norm.weight.data.copy_(torch.from_numpy(weights["gamma"]))
    norm.bias.data.copy_(torch.from_numpy(weights["beta"]))
    norm.running_mean.copy_(torch.from_numpy(weights["moving_mean"]))
    norm.running_var.copy_(torch.from_numpy(weights["moving_variance"]))


def load_keras_model(handle: h5py.File) -> SpliceAI10k:
    """A :class:`SpliceAI10k` in eval mode holding the weights of one SpliceAI .h5 file."""
    graph = keras_graph(handle)
    roles = trace_layers(graph)
    for name, (class_name, config, _) in graph.items():
        if class_name == "BatchNormalization" and abs(config["epsilon"] - EPS) > 1e-12:
            raise ValueError(f"{name}: epsilon {config['epsilon']}, expected {EPS}")
    model = SpliceAI10k()
    _set_conv(model.conv, keras_weights(handle, roles["first"]))
    _set_conv(model.skip, keras_weights(handle, roles["skip"]))
    units = [unit for stage in model.stages for unit in stage]
    for unit, (bn1, conv1, bn2, conv2) in zip(units, roles["units"]):
        _set_norm(unit.bn1, keras_weights(handle, bn1))
        _set_conv(unit.conv1, keras_weights(handle, conv1))
        _set_norm(unit.bn2, keras_weights(handle, bn2))
        _set_conv(unit.conv2, keras_weights(handle, conv2))
    for dense, name in zip(model.dense, roles["dense"]):
        _set_conv(dense, keras_weights(handle, name))
    _set_conv(model.out, keras_weights(handle, roles["out"]))
    return model.eval()


def keras_reference(handle: h5py.File, x: np.ndarray) -> np.ndarray:
    """Evaluate the Keras graph itself in NumPy (float64) on one input ``(L, 4)``: ``(L - 10000, 3)``.

    An independent check of :func:`load_keras_model`: it follows the file's layer graph, not the roles.
    """
    graph = keras_graph(handle)
    values: dict[str, np.ndarray] = {}

    def evaluate(name: str) -> np.ndarray:
        if name in values:
            return values[name]
        class_name, config, inbound = graph[name]
        inputs = [evaluate(n) for n in inbound]
        if class_name == "InputLayer":
            result = x.astype(np.float64)
        elif class_name == "Conv1D":
            w = keras_weights(handle, name)
            kernel, dilation = w["kernel"].astype(np.float64), config["dilation_rate"][0]
            width = kernel.shape[0]
            pad = dilation * (width - 1) // 2 if config["padding"] == "same" else 0
            padded = np.pad(inputs[0], ((pad, pad), (0, 0)))
            length = padded.shape[0] - dilation * (width - 1)
            result = sum(padded[j * dilation:j * dilation + length] @ kernel[j] for j in range(width)) + w["bias"]
            if config["activation"] == "softmax":
                result = np.exp(result - result.max(1, keepdims=True))
                result = result / result.sum(1, keepdims=True)
        elif class_name == "BatchNormalization":
            w = keras_weights(handle, name)
            scale = w["gamma"] / np.sqrt(w["moving_variance"] + config["epsilon"])
            result = (inputs[0] - w["moving_mean"]) * scale + w["beta"]
        elif class_name == "Activation":
            result = np.maximum(inputs[0], 0)
        elif class_name == "Add":
            result = sum(inputs)
        elif class_name == "Cropping1D":
            left, right = config["cropping"]
            result = inputs[0][left:inputs[0].shape[0] - right]
        else:
            raise ValueError(f"layer class {class_name} is not part of SpliceAI")
        values[name] = result
        return result

    output = [n for n, (c, cfg, _) in graph.items() if c == "Conv1D" and cfg.get("activation") == "softmax"][0]
    return evaluate(output)


# ---- the wheel ----

def wheel_path(folder: Path, given: Path | None = None) -> Path:
    """The spliceai 1.3.1 wheel: ``given``, or one already in ``folder``, else ``pip download`` into ``folder``;
    its SHA-256 is checked against the PyPI release."""
    path = given or folder / WHEEL
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "spliceai==1.3.1", "--no-deps", "--quiet",
                        "-d", str(folder)], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest} is not the one of spliceai 1.3.1 on PyPI ({WHEEL_SHA256})")
    return path


def load_ensemble(wheel: Path) -> tuple[SpliceAIEnsemble, list[bytes]]:
    """The five SpliceAI-10k models from the wheel's ``spliceai/models/spliceai{1..5}.h5`` (and their bytes)."""
    models, blobs = [], []
    with zipfile.ZipFile(wheel) as archive:
        for k in range(1, 6):
            blob = archive.read(f"spliceai/models/spliceai{k}.h5")
            with h5py.File(io.BytesIO(blob), "r") as handle:
                models.append(load_keras_model(handle))
            blobs.append(blob)
    return SpliceAIEnsemble(models).eval(), blobs


# ---- validation on DOC2B and export ----

def read_gene(path: Path = GENE) -> dict:
    """The BED12 gene model: chrom, tx start/end, strand, exons ``[(start, end)]`` (0-based half-open, sorted)."""
    fields = path.read_text().split("\t")
    chrom, start, end, name, strand = fields[0], int(fields[1]), int(fields[2]), fields[3], fields[5]
    sizes = [int(v) for v in fields[10].strip(",").split(",")]
    offsets = [int(v) for v in fields[11].strip().strip(",").split(",")]
    exons = sorted((start + o, start + o + s) for o, s in zip(offsets, sizes))
    return {"chrom": chrom, "start": start, "end": end, "name": name, "strand": strand, "exons": exons}


def splice_sites(gene: dict) -> dict[str, list[int]]:
    """Genomic 0-based positions of the annotated acceptors (first base of each exon but the first, in
    transcript orientation) and donors (last base of each exon but the last)."""
    exons = gene["exons"]
    if gene["strand"] == "+":
        return {"acceptor": [s for s, _ in exons[1:]], "donor": [e - 1 for _, e in exons[:-1]]}
    return {"acceptor": [e - 1 for _, e in exons[:-1]], "donor": [s for s, _ in exons[1:]]}


def read_fasta_one(path: Path) -> tuple[str, str]:
    """The first record of a FASTA file: (name, sequence)."""
    lines = path.read_text().split("\n")
    return lines[0][1:].split()[0], "".join(line.strip() for line in lines[1:] if not line.startswith(">"))


def gene_scores(ensemble: nn.Module, sequence: str, gene: dict, chunk: int = 5000) -> np.ndarray:
    """Ensemble probabilities ``(3, tx length)`` over the gene, in genomic (+ strand) order.

    Each chunk of output positions gets its 5,000-bp flanks (N = zeros past the sequence); a minus-strand
    gene is scored on the reverse complement and mapped back.
    """
    start, end = gene["start"], gene["end"]
    half = CONTEXT // 2
    padded = "N" * half + sequence + "N" * half
    window = padded[start:end + 2 * half]  # = sequence[start - half:end + half], N-padded
    if gene["strand"] == "-":
        window = reverse_complement(window)
    x = torch.as_tensor(one_hot_encode(window))
    length = end - start
    out = np.zeros((3, length), dtype=np.float32)
    with torch.no_grad():
        for lo in range(0, length, chunk):
            hi = min(length, lo + chunk)
            out[:, lo:hi] = ensemble(x[None, :, lo:hi + 2 * half])[0].numpy()
    return out[:, ::-1] if gene["strand"] == "-" else out


def top_k_accuracy(scores: np.ndarray, positives: list[int]) -> float:
    """Fraction of ``positives`` (indices) among the ``k = len(positives)`` highest ``scores``."""
    top = set(np.argsort(-scores, kind="stable")[:len(positives)].tolist())
    return len(top & set(positives)) / len(positives)


def validate(ensemble: nn.Module, fasta: Path = FASTA, gene_file: Path = GENE) -> dict:
    """Acceptor/donor scores at DOC2B's annotated sites vs the rest of the gene; top-k accuracy, and the best
    offset (-2..2 bp) of the model's sites from the nominal annotation (a check of the convention)."""
    _, sequence = read_fasta_one(fasta)
    gene = read_gene(gene_file)
    scores = gene_scores(ensemble, sequence, gene)
    sites = splice_sites(gene)
    result = {"gene": gene["name"], "locus": f"{gene['chrom']}:{gene['start']}-{gene['end']}",
              "strand": gene["strand"], "exons": len(gene["exons"])}
    for channel, kind in ((1, "acceptor"), (2, "donor")):
        track = scores[channel]
        offsets = {d: float(np.mean([track[p - gene["start"] + d] for p in sites[kind]])) for d in range(-2, 3)}
        positives = [p - gene["start"] for p in sites[kind]]
        others = np.delete(track, positives)
        result[kind] = {
            "sites": sites[kind],
            "score_at_sites": [round(float(track[p]), 4) for p in positives],
            "mean_score_by_offset": {str(d): round(v, 4) for d, v in offsets.items()},
            "top_k_accuracy": top_k_accuracy(track, positives),
            "max_score_elsewhere": round(float(others.max()), 4),
            "mean_score_elsewhere": round(float(others.mean()), 6),
            "sites_above_0.5": int(sum(track[p] > 0.5 for p in positives)),
            "other_bases_above_0.5": int((others > 0.5).sum()),
            "other_positions_above_0.5": [[int(gene["start"] + i), round(float(track[i]), 4)]
                                          for i in np.flatnonzero(track > 0.5) if i not in positives][:10],
        }
    positives = [p - gene["start"] for kind in ("acceptor", "donor") for p in sites[kind]]
    result["top_k_accuracy"] = top_k_accuracy(scores[1:].max(0), positives)
    return result


def reference_check(blobs: list[bytes], ensemble: SpliceAIEnsemble, sequence: str, start: int,
                    length: int = 40) -> float:
    """Largest |torch - NumPy Keras graph| probability over all five models on real sequence
    ``sequence[start : start + length + 10000]``."""
    window = sequence[start:start + length + CONTEXT]
    x = one_hot_encode(window)
    worst = 0.0
    for blob, model in zip(blobs, ensemble.models):
        with h5py.File(io.BytesIO(blob), "r") as handle:
            reference = keras_reference(handle, x.T)
        with torch.no_grad():
            mine = model(torch.as_tensor(x)[None])[0].numpy().T
        worst = max(worst, float(np.abs(mine - reference).max()))
    return worst


def region_rows(gene: dict) -> list[tuple]:
    """narrowPeak rows: 401 bp on the gene's strand centred on each annotated splice site (genomic order)."""
    rows = []
    for kind, positions in splice_sites(gene).items():
        for position in positions:
            start = position - REGION_HALF
            rows.append((gene["chrom"], start, position + REGION_HALF + 1, f"DOC2B_{kind}_{position}", 0,
                         gene["strand"], 0, -1, -1, REGION_HALF))
    return sorted(rows, key=lambda r: r[1])


def build(out: Path, wheel: Path | None = None) -> dict:
    """Convert, check, validate and export SpliceAI into ``out``; writes ``card.json`` and returns it."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    path = wheel_path(out / "wheel", wheel)
    ensemble, blobs = load_ensemble(path)
    _, sequence = read_fasta_one(FASTA)
    gene = read_gene()
    worst = reference_check(blobs, ensemble, sequence, gene["exons"][2][0] - CONTEXT // 2 - 20)
    if worst > 1e-4:
        raise RuntimeError(f"PyTorch SpliceAI differs from the Keras graph by {worst:g}")
    accuracy = validate(ensemble)
    scorer = SpliceSiteScorer(ensemble).eval()
    scripted, scripted_ensemble = torch.jit.script(scorer), torch.jit.script(ensemble)
    save_atomically(out / "spliceai_centre.pt", lambda path: torch.jit.save(scripted, path))
    save_atomically(out / "spliceai_ensemble.pt", lambda path: torch.jit.save(scripted_ensemble, path))
    write_if_changed(out / "chr17.hg19.part.fa", FASTA.read_text())
    rows = "".join("\t".join(map(str, row)) + "\n" for row in region_rows(gene))
    write_if_changed(out / "regions.bed", "track type=narrowPeak name=DOC2B_splice_sites\n" + rows)
    centre_check = check_centre(scorer, sequence, gene)
    card = {
        "name": "spliceai", "architecture": "SpliceAI-10k (Jaganathan et al. 2019), ensemble of 5, PyTorch",
        "description": "published splicing model trained on real data (GENCODE, human); weights from the spliceai "
                       "1.3.1 wheel on PyPI, read with h5py; explained at the centre base of a 10,001-bp window",
        "world": None, "genome": "chr17.hg19.part.fa", "regions": "regions.bed", "window": CENTRE_WINDOW,
        "kind": "published", "parameters": int(sum(p.numel() for p in ensemble.parameters())),
        "files": {"torchscript": "spliceai_centre.pt", "ensemble_torchscript": "spliceai_ensemble.pt"},
        "cli": {"model": "spliceai_centre.pt", "args": ["--window", str(CENTRE_WINDOW), "--batch-size", "2"]},
        "cli_note": "--batch-size 2: the backward pass of the 5-model ensemble over 10,001 bp keeps ~2 GB of "
                    "activations a window; with seqsal's default --batch-size 64 (all 10 regions in one batch) "
                    "the run grew past 23 GB and was killed by the kernel's OOM killer (exit -9)",
        "targets": {"2": "log((p_acceptor + p_donor) / p_neither) at the centre base",
                    "0": "log(p_acceptor / p_neither) at the centre base",
                    "1": "log(p_donor / p_neither) at the centre base"},
        "target": "2", "check_targets": ["2", "0"],
        "held_out": {"metric": "top_k_accuracy", "value": accuracy["top_k_accuracy"], **accuracy},
        "keras_graph_max_abs_difference": worst, "centre_check": centre_check,
        "source": {"wheel": WHEEL, "sha256": WHEEL_SHA256,
                   "h5_sha256": [hashlib.sha256(b).hexdigest() for b in blobs],
                   "paper": "Jaganathan K. et al. (2019) Predicting splicing from primary sequence with deep "
                            "learning. Cell 176:535-548. doi:10.1016/j.cell.2018.12.015",
                   "sequence": "hg19 chr17:1-40,000 (pyfaidx test data)", "gene": "DOC2B uc010vpx.1 (UCSC)"},
        "used_motifs": {}, "seconds": round(time.perf_counter() - started, 1),
    }
    write_if_changed(out / "card.json", json.dumps(card, indent=2) + "\n")
    return card


def check_centre(scorer: SpliceSiteScorer, sequence: str, gene: dict) -> dict:
    """The scorer on the 10,001-bp windows that seqsal cuts for the regions (centred on each site, reverse
    complemented for a minus-strand gene) vs the full-gene probabilities: they must agree."""
    half = CONTEXT // 2
    padded = "N" * half + sequence + "N" * half
    scores = gene_scores(scorer.ensemble, sequence, gene)
    worst = 0.0
    rows = []
    for kind, positions in splice_sites(gene).items():
        channel = 1 if kind == "acceptor" else 2
        for position in positions:
            window = padded[position:position + CENTRE_WINDOW]
            window = reverse_complement(window) if gene["strand"] == "-" else window
            with torch.no_grad():
                log_odds = scorer(torch.as_tensor(one_hot_encode(window))[None])[0]
            probability = scores[channel, position - gene["start"]]
            neither = scores[0, position - gene["start"]]
            expected = float(np.log(probability) - np.log(neither))
            worst = max(worst, abs(float(log_odds[channel - 1]) - expected))
            rows.append({"site": f"{kind}_{position}", "log_odds": round(float(log_odds[channel - 1]), 3)})
    return {"max_abs_difference_to_gene_scan": worst, "sites": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "build" / "spliceai")
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL} (else pip download)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    card = build(args.out, args.wheel)
    accuracy = card["held_out"]
    for kind in ("acceptor", "donor"):
        print(f"{kind}: scores at sites {accuracy[kind]['score_at_sites']}, top-k {accuracy[kind]['top_k_accuracy']}, "
              f"max elsewhere {accuracy[kind]['max_score_elsewhere']}, "
              f"by offset {accuracy[kind]['mean_score_by_offset']}")
    print(f"top-k accuracy (acceptors + donors): {accuracy['top_k_accuracy']}; Keras graph check "
          f"{card['keras_graph_max_abs_difference']:.2g}; "
          f"centre check {card['centre_check']['max_abs_difference_to_gene_scan']:.2g}")


if __name__ == "__main__":
    main()

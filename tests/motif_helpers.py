"""Motif data shared by the motif tests and tests/test_report.py (importable: pytest puts ``tests/`` on ``sys.path``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.motifs import read_meme, reverse_complement_matrix
from seqsal.simulate import random_sequence, sample_site

ROOT = Path(__file__).resolve().parents[1]
JASPAR = ROOT / "data" / "motifs" / "jaspar_subset.meme"


def jaspar_motifs() -> dict:
    """The bundled JASPAR subset by motif name."""
    return {motif.name: motif for motif in read_meme(JASPAR)}


def planted_run(jaspar, n_regions=240, length=200, seed=0):
    """Regions with Spi1 (positive contribution) and CEBPB sites; REST sites with negative contribution.

    Hypothetical contributions are the centred log-odds of the planted motif at
    its sites plus noise everywhere (what a model that learnt the motif shows).
    Returns one-hot, hypothetical, lengths, the seqlet table and the truth.
    """
    rng = np.random.default_rng(seed)
    plan = [("Spi1", 1.0), ("CEBPB", 0.8), ("REST", -1.0)]
    one_hot = np.zeros((n_regions, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n_regions, 4, length)).astype(np.float32)
    seqlets, truth = [], []
    for i in range(n_regions):
        sequence = bytearray(random_sequence(length, rng).tobytes())
        name, weight = plan[i % 3]
        pwm = jaspar[name].pwm
        width = pwm.shape[1]
        start = int(rng.integers(20, length - width - 20))
        site = sample_site(pwm, rng)
        minus = bool(rng.random() < 0.5)
        sequence[start:start + width] = (reverse_complement(site) if minus else site).encode()
        one_hot[i] = one_hot_encode(bytes(sequence))
        log_odds = np.log2((pwm + 0.01) / 0.25)
        log_odds -= log_odds.mean(axis=0, keepdims=True)
        if minus:
            log_odds = reverse_complement_matrix(log_odds)
        hyp[i, :, start:start + width] += weight * 0.3 * log_odds.astype(np.float32)
        jitter = int(rng.integers(-3, 4))
        seqlets.append((i, start + jitter, start + width + jitter, "+" if weight > 0 else "-", weight))
        truth.append((name, i, start, minus))
        if rng.random() < 0.2:  # a spurious noise seqlet
            lo = 150 if start < 100 else 10
            seqlets.append((i, lo, lo + 12, "+", 0.1))
    table = pd.DataFrame(seqlets, columns=["region_index", "offset_start", "offset_end", "sign", "score"])
    return one_hot, hyp, np.full(n_regions, length), table, truth


def check_modisco_h5(path, motifs, one_hot, hyp, tmp_path):
    """motifs.h5 holds every motif and instance in tfmodisco-lite's layout, and modisco-lite's own reader takes it."""
    import h5py
    from modiscolite.io import write_meme_from_h5
    from modiscolite.util import MemeDataType

    with h5py.File(path, "r") as handle:
        assert handle.attrs["window_size"] == one_hot.shape[2]
        for sign, group in (("+", "pos_patterns"), ("-", "neg_patterns")):
            chosen = [m for m in motifs if m.sign == sign]
            assert sorted(handle[group]) == [f"pattern_{i}" for i in range(len(chosen))]
            for i, motif in enumerate(chosen):
                pattern = handle[group][f"pattern_{i}"]
                np.testing.assert_allclose(pattern["sequence"][:], motif.pwm.T, rtol=1e-6)
                np.testing.assert_allclose(pattern["contrib_scores"][:], motif.cwm.T, rtol=1e-5, atol=1e-7)
                seqlets = pattern["seqlets"]
                n, width = motif.n_seqlets, motif.pwm.shape[1]
                assert seqlets["n_seqlets"][0] == n and seqlets["sequence"].shape == (n, width, 4)
                # each instance is the aligned stretch of its row: reverse-complemented when is_revcomp
                k = int(np.argmax(seqlets["is_revcomp"][:])) if seqlets["is_revcomp"][:].any() else 0
                row, start = int(seqlets["example_idx"][k]), int(seqlets["start"][k])
                stretch = one_hot[row, :, start:start + width]
                if seqlets["is_revcomp"][k]:
                    stretch = stretch[::-1, ::-1]
                np.testing.assert_array_equal(seqlets["sequence"][k], stretch.T)
                # the mean aligned instance is the motif (PWM up to the pseudocounts, CWM exactly)
                np.testing.assert_allclose(seqlets["contrib_scores"][:].mean(axis=0), motif.cwm.T, atol=1e-5)
    write_meme_from_h5(str(path), MemeDataType.PFM, str(tmp_path / "from_h5.meme"), True)
    assert len(read_meme(tmp_path / "from_h5.meme")) == len(motifs)


def toy_run_folder(folder: Path, site: str, share: float, tracks, n_regions: int, length: int, seed: int,
                   first_offset: int = 50) -> Path:
    """A run folder as `seqsal attribute` leaves it, made without a model: genome.fa (one random chromosome),
    regions.tsv, attributions.npz and run.json, and null.npz as the shuffled null writes it (the toy model's
    tracks of the dinucleotide shuffles :func:`seqsal.peaks.shuffled_fetch` draws for each region, seed 0), without
    the sequences. A ``share`` of the regions holds ``site`` (either strand) at an offset drawn from
    ``[first_offset, length - 50)``; ``tracks(one_hot, rng)`` is the toy model's hypothetical contributions."""
    import json

    from seqsal.genome import Genome
    from seqsal.io import write_npz
    from seqsal.peaks import shuffled_fetch

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    starts = 100 + np.arange(n_regions) * (length + 100)
    chrom = bytearray(random_sequence(int(starts[-1]) + length + 100, rng).tobytes())
    for start in starts[rng.random(n_regions) < share]:
        at = int(start + rng.integers(first_offset, length - 50))
        planted = site if rng.random() < 0.5 else reverse_complement(site)
        chrom[at:at + len(planted)] = planted.encode()
    (folder / "genome.fa").write_text(">chr1\n" + chrom.decode() + "\n")
    pd.DataFrame({"index": np.arange(n_regions), "name": [f"r{i}" for i in range(n_regions)], "chrom": "chr1",
                  "start": starts, "end": starts + length, "strand": "+"}).to_csv(folder / "regions.tsv", sep="\t",
                                                                                  index=False)
    spans = [("chr1", int(start), int(start) + length) for start in starts]
    with Genome(folder / "genome.fa") as genome:
        one_hot = np.stack([one_hot_encode(genome.fetch(*span)) for span in spans])
        shuffled = shuffled_fetch(genome.fetch, 0, spans)
        null_one_hot = np.stack([one_hot_encode(shuffled(*span)) for span in spans])
    lengths = np.full(n_regions, length)
    write_npz(folder / "attributions.npz", {"one_hot": one_hot, "hypothetical": tracks(one_hot, rng),
                                            "length": lengths})
    write_npz(folder / "null.npz", {
        "projected": (null_one_hot * tracks(null_one_hot, rng)).sum(axis=1).astype(np.float32),
        "valid": null_one_hot.max(axis=1) == 1, "length": lengths, "region_index": np.arange(n_regions),
        "region_key": np.array([f"{c}\t{s}\t{e}\tr{i}" for i, (c, s, e) in enumerate(spans)]),
        "fraction": np.asarray(1.0), "seed": np.asarray(0)})
    (folder / "run.json").write_text(json.dumps({"genome": str(folder / "genome.fa"), "parameters": {"window": None}}))
    return folder


def word_tracks(one_hot: np.ndarray, rng: np.random.Generator, words) -> np.ndarray:
    """A toy model's hypothetical contributions ``(n, 4, L)``: noise (SD 0.05), plus ``weight`` on every base of each
    occurrence of each ``(word, weight)`` of ``words``, on either strand (bases that are not one-hot read as N)."""
    hyp = rng.normal(0, 0.05, one_hot.shape).astype(np.float32)
    letters = np.array(list("ACGT"))
    for i in range(one_hot.shape[0]):
        text = "".join(np.where(one_hot[i].max(axis=0) == 1, letters[one_hot[i].argmax(axis=0)], "N"))
        for word, weight in words:
            for strand in {word, reverse_complement(word)}:
                at = text.find(strand)
                while at >= 0:
                    hyp[i, :, at:at + len(strand)] += weight * one_hot[i, :, at:at + len(strand)]
                    at = text.find(strand, at + 1)
    return hyp


def attribute_demo(out: Path) -> Path:
    """``seqsal attribute`` on the bundled demo into ``out`` with its defaults (grad x input, the shuffled null:
    ``null.npz``), through the CLI; returns ``out``."""
    from click.testing import CliRunner

    from seqsal.cli import main

    demo = ROOT / "data" / "demo"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "null.npz").exists()
    return out


"""Planted-motif benchmark of ``seqsal motifs`` against tfmodisco-lite, plus discovery scaling and logo speed.

On the demo (``data/demo``: 6 JASPAR motifs planted 111-136 times each, see
``data/demo/README.md``) this script

1. runs ``seqsal attribute`` (unless ``--run`` names a finished run folder);
2. discovers motifs with seqsal from (a) the run's own ``seqlets.tsv`` (the
   peak caller) and (b) a plain window-sum seqlet extraction written here
   (``simple_seqlets``: 15-bp windows whose summed contribution is more than
   3 robust SDs from the median, both signs; what modisco's own seqlet step
   roughly does), and times it;
3. runs ``modisco motifs`` (tfmodisco-lite, from ``--modisco``, default the
   ``modisco`` on PATH) on the same ``one_hot``/``hypothetical`` arrays;
4. matches every motif of both tools to ``data/motifs/jaspar_subset.meme`` with
   seqsal's TOMTOM-style matcher and counts: planted motifs recovered (the best
   match of some motif, q < 0.05), spurious motifs (best match not a planted
   motif with q < 0.05), redundant motifs (a second motif for a recovered one);
5. with ``--scale``, times discovery on synthetic seqlet sets of those sizes;
6. times logo drawing (seqsal's glyph engine, 1 and 2 workers; logomaker).

Usage::

    python benchmarks/motifs_planted.py [--run OUT] [--modisco /path/to/modisco] [--scale 10000 100000] [--rare 150]
    python benchmarks/motifs_planted.py --scale-only --scale 100000 --rare 150

Prints a JSON record and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqsal.encode import one_hot_encode, reverse_complement  # noqa: E402
from seqsal.io import region_arrays  # noqa: E402
from seqsal.motifs import (  # noqa: E402
    DISCOVERY_FDR, DiscoveryOptions, Motif, best_matches, compare_motifs, discover_motifs, discovery_seqlets,
    instance_table, read_meme, trim_bounds,
)
from seqsal.plot import LogoJob, render_jobs  # noqa: E402
from seqsal.simulate import random_sequence, sample_site  # noqa: E402

DEMO = ROOT / "data" / "demo"
DATABASE = ROOT / "data" / "motifs" / "jaspar_subset.meme"


def simple_seqlets(one_hot, hyp, lengths, window: int = 15, z: float = 3.0) -> pd.DataFrame:
    """Greedy non-overlapping windows of the per-base contribution whose sum is > ``z`` robust SDs from the median."""
    sums = []
    for i in range(len(lengths)):
        track = (np.asarray(one_hot[i, :, :lengths[i]]) * np.asarray(hyp[i, :, :lengths[i]])).sum(axis=0)
        sums.append(np.convolve(track, np.ones(window), mode="valid"))
    values = np.concatenate(sums)
    median = np.median(values)
    mad = np.median(np.abs(values - median)) * 1.4826
    rows = []
    for i, total in enumerate(sums):
        for sign in (1, -1):
            score = sign * (total - median) / mad
            while len(score):
                j = int(np.argmax(score))
                if score[j] < z:
                    break
                rows.append((i, j, j + window, "+" if sign > 0 else "-", float(total[j])))
                score[max(0, j - window):j + window] = -np.inf
    return pd.DataFrame(rows, columns=["region_index", "offset_start", "offset_end", "sign", "score"])


def evaluate(motifs: list[Motif], planted: set[str], database: list[Motif]) -> dict:
    """Recovered planted motifs, spurious and redundant motifs (best match, q < 0.05)."""
    if not motifs:
        return {"n_motifs": 0, "recovered": [], "n_recovered": 0, "spurious": 0, "redundant": 0, "best": []}
    best = best_matches(compare_motifs(motifs, database), 1).set_index("query")
    hits = []
    for motif in motifs:
        row = best.loc[motif.identifier]
        hits.append((motif.identifier, motif.nsites, row["target_name"], float(row["qvalue"])))
    good = [name for _, _, name, q in hits if q < 0.05 and name in planted]
    recovered = sorted(set(good))
    return {"n_motifs": len(motifs), "recovered": recovered, "n_recovered": len(recovered),
            "spurious": sum(1 for _, _, name, q in hits if not (q < 0.05 and name in planted)),
            "redundant": len(good) - len(recovered),
            "best": [{"motif": m, "n": int(n), "match": name, "q": float(f"{q:.3g}")} for m, n, name, q in hits]}


def instance_precision(motifs, seqlets: pd.DataFrame, regions: pd.DataFrame, planted_bed: Path,
                       database: list[Motif]) -> list[dict]:
    """Share of motif instances on a planted site of the motif's best match, by the seqlet q-value they carry."""
    if not motifs:
        return []
    best = best_matches(compare_motifs([m.to_motif() for m in motifs], database), 1).set_index("query")
    table = instance_table(motifs, regions, seqlets)
    table["match"] = [best.loc[name, "target_name"] for name in table["motif"]]
    truth = pd.read_csv(planted_bed, sep="\t", header=None, names=["chrom", "start", "end", "motif", "score", "strand"])
    hits = np.zeros(len(table), bool)
    for (chrom, match), rows in table.groupby(["chrom", "match"]).groups.items():
        sites = truth[(truth["chrom"] == chrom) & (truth["motif"] == match)]
        starts, ends = np.sort(sites["start"].to_numpy()), None
        ends = sites["end"].to_numpy()[np.argsort(sites["start"].to_numpy())]
        for row in rows:
            lo, hi = table.at[row, "start"], table.at[row, "end"]
            k = np.searchsorted(starts, hi)  # sites starting before the instance ends
            hits[row] = bool(k and (ends[:k] > lo).any())
    out = []
    for q in (1.0, 0.5, 0.2, 0.05):
        chosen = table["qvalue"].to_numpy() <= q
        out.append({"max_q": q, "instances": int(chosen.sum()),
                    "on_planted_site": round(float(hits[chosen].mean()), 3) if chosen.any() else None})
    return out


def modisco_motifs(h5_path: str, trim_threshold: float = 0.3) -> list[Motif]:
    """Patterns of a modisco-lite HDF5 file as PWMs trimmed like ``modisco report`` (|CWM| >= 0.3 x max)."""
    import h5py

    motifs = []
    with h5py.File(h5_path, "r") as handle:
        for group in ("pos_patterns", "neg_patterns"):
            if group not in handle:
                continue
            for name in handle[group]:
                pattern = handle[group][name]
                pwm = np.asarray(pattern["sequence"]).T  # (4, W)
                cwm = np.asarray(pattern["contrib_scores"]).T
                lo, hi = trim_bounds(cwm, trim_threshold)
                n = int(pattern["seqlets"]["n_seqlets"][0]) if "seqlets" in pattern else 0
                trimmed = pwm[:, lo:hi] + 1e-3
                motifs.append(Motif(f"{group}.{name}", name, trimmed / trimmed.sum(axis=0), n))
    return motifs


def run_modisco(modisco: str, one_hot, hyp, workdir: str, max_seqlets: int = 2000) -> tuple[list[Motif], float, str]:
    np.save(os.path.join(workdir, "ohe.npy"), np.asarray(one_hot))
    np.save(os.path.join(workdir, "shap.npy"), np.asarray(hyp))
    h5 = os.path.join(workdir, "modisco.h5")
    started = time.perf_counter()
    result = subprocess.run([modisco, "motifs", "-s", os.path.join(workdir, "ohe.npy"), "-a",
                             os.path.join(workdir, "shap.npy"), "-n", str(max_seqlets), "-w", str(one_hot.shape[2]),
                             "-o", h5], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        return [], seconds, (result.stderr or result.stdout)[-2000:]
    return modisco_motifs(h5), seconds, ""


def synthetic_scale(n_seqlets: int, seed: int = 0, rare: int | None = None) -> dict:
    """Discovery time on ``n_seqlets`` synthetic seqlets of 6 planted JASPAR motifs (plus 20 % noise seqlets).

    With ``rare``, CTCF has exactly that many seqlets (a rare motif among many) and the other five share the rest.
    """
    rng = np.random.default_rng(seed)
    known = {m.name: m for m in read_meme(DATABASE)}
    names = ["GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN", "CTCF", "REST"]
    length = 60
    n = n_seqlets
    one_hot = np.zeros((n, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n, 4, length)).astype(np.float32)
    rows = []
    rare_rows = set(rng.choice(n, rare, replace=False).tolist()) if rare else set()
    others = [name for name in names if name != "CTCF"] if rare else names
    for i in range(n):
        seq = bytearray(random_sequence(length, rng).tobytes())
        if i in rare_rows or rng.random() < 0.8:
            name = "CTCF" if i in rare_rows else others[i % len(others)]
            pwm = known[name].pwm
            width = pwm.shape[1]
            start = int(rng.integers(5, length - width - 5))
            minus = rng.random() < 0.5
            site = sample_site(pwm, rng)
            seq[start:start + width] = (reverse_complement(site) if minus else site).encode()
            log_odds = np.log2((pwm + 0.01) / 0.25)
            log_odds -= log_odds.mean(axis=0, keepdims=True)
            hyp[i, :, start:start + width] += 0.3 * (log_odds[::-1, ::-1] if minus else log_odds)
            rows.append((i, start, start + width, "-" if name == "REST" else "+"))
            if name == "REST":
                hyp[i] *= -1
        else:
            rows.append((i, 20, 35, "+"))
        one_hot[i] = one_hot_encode(bytes(seq))
    seqlets = pd.DataFrame(rows, columns=["region_index", "offset_start", "offset_end", "sign"])
    started = time.perf_counter()
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets)
    seconds = time.perf_counter() - started
    found = evaluate([m.to_motif() for m in motifs], set(names), list(known.values()))
    return {"n_seqlets": n, "rare_ctcf_seqlets": rare, "seconds": round(seconds, 2), "n_motifs": found["n_motifs"],
            "recovered": found["n_recovered"], "found": found["recovered"], "spurious": found["spurious"]}


def logo_speed(run_dir: str, n: int = 40) -> dict:
    """Logos/s of 40 seqlet logos (21 bp + 5 bp flanks) and 10 region views: glyph engine x 1/2 workers; logomaker."""
    arrays = region_arrays(os.path.join(run_dir, "attributions.npz"), ("one_hot", "hypothetical"))
    jobs = []
    for i in range(n):
        row = i % len(arrays)
        jobs.append(("seqlet", {"one_hot": np.array(arrays["one_hot"][row][:, 280:311]),
                                "hypothetical": np.array(arrays["hypothetical"][row][:, 280:311]),
                                "title": f"seqlet {i}", "genome_start": 280}))
    regions = [("region", {"one_hot": np.array(arrays["one_hot"][i][:, :600]),
                           "hypothetical": np.array(arrays["hypothetical"][i][:, :600]), "chrom": "chr1",
                           "genome_start": 0}) for i in range(10)]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, batch in (("seqlet", jobs), ("region_600bp", regions)):
            for engine, workers in (("fast", 1), ("fast", 2), ("logomaker", 1)):
                chosen = batch if engine == "fast" else batch[:max(3, len(batch) // 8)]
                todo = [LogoJob(os.path.join(tmp, f"{label}_{engine}_{workers}_{k}.png"), kind,
                                {**args, "engine": engine}) for k, (kind, args) in enumerate(chosen)]
                started = time.perf_counter()
                render_jobs(todo, workers=workers)
                out[f"{label}:{engine}:{workers}"] = round(len(todo) / (time.perf_counter() - started), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=DEMO,
                        help="Demo folder (genome.fa, regions.bed, model.safetensors, planted.bed); another one is "
                             "made by `python data/demo/make_demo.py --seed 8 --out DIR`.")
    parser.add_argument("--run", help="A finished `seqsal attribute` run of the demo (else one is made).")
    parser.add_argument("--method", default="grad_x_input", help="Attribution method of the run that is made.")
    parser.add_argument("--modisco", default=shutil.which("modisco"), help="The tfmodisco-lite `modisco` executable.")
    parser.add_argument("--scale", type=int, nargs="*", default=[], help="Synthetic seqlet counts to time.")
    parser.add_argument("--seqlet-fdr", type=float, nargs="*", default=[0.5, 0.7, 0.8, 0.9, 0.95],
                        help="Other discovery seqlet FDRs to try besides the default (robustness of the setting).")
    parser.add_argument("--rare", type=int, default=None,
                        help="Also time each --scale size with only this many CTCF seqlets (a rare motif).")
    parser.add_argument("--scale-only", action="store_true", help="Only the synthetic --scale runs (no demo run).")
    parser.add_argument("--no-logos", action="store_true")
    args = parser.parse_args()

    if args.scale_only:
        record = {"scale": [synthetic_scale(n) for n in args.scale],
                  "scale_rare": [synthetic_scale(n, rare=args.rare) for n in args.scale] if args.rare else []}
        print(json.dumps(record, indent=2))
        return
    workdir = tempfile.mkdtemp(prefix="seqsal_motif_bench_")
    run_dir = args.run
    record: dict = {}
    if run_dir is None:
        run_dir = os.path.join(workdir, "run")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "seqsal.cli", "attribute", str(args.demo / "genome.fa"),
                        str(args.demo / "regions.bed"), "--model", str(args.demo / "model.safetensors"), "-o", run_dir,
                        "--method", args.method, "--quiet"], check=True)
        record["attribute_seconds"] = round(time.perf_counter() - started, 2)
    arrays = region_arrays(os.path.join(run_dir, "attributions.npz"), ("one_hot", "hypothetical"))
    one_hot, hyp, lengths = arrays["one_hot"].padded(), arrays["hypothetical"].padded(), arrays.lengths
    record["demo"], record["method"] = str(args.demo), args.method if args.run is None else "(given run)"
    planted = pd.read_csv(args.demo / "planted.bed", sep="\t", header=None)[3].value_counts()
    record["planted_instances"] = {str(k): int(v) for k, v in planted.items()}
    planted_names = set(planted.index)
    database = read_meme(DATABASE)

    seqlet_sets = {}
    if os.path.isfile(os.path.join(run_dir, "seqlets.tsv")):
        seqlet_sets["peak caller (seqlets.tsv)"] = pd.read_csv(os.path.join(run_dir, "seqlets.tsv"), sep="\t")
    seqlet_sets[f"re-called at FDR {DISCOVERY_FDR:g}, Laplace (`seqsal motifs` default)"] = discovery_seqlets(run_dir)
    for fdr in args.seqlet_fdr:
        if fdr != DISCOVERY_FDR:
            seqlet_sets[f"re-called at FDR {fdr:g}, Laplace (`--seqlet-fdr {fdr:g}`)"] = discovery_seqlets(run_dir, fdr)
    seqlet_sets["window-sum z>3 (this script)"] = simple_seqlets(one_hot, hyp, lengths)
    record["seqsal"] = {}
    default_label = next(label for label in seqlet_sets if "default" in label)
    for label, seqlets in seqlet_sets.items():
        started = time.perf_counter()
        motifs = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions())
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = evaluate([m.to_motif() for m in motifs], planted_names, database)
        result.update(n_seqlets=len(seqlets), discovery_seconds=round(seconds, 2),
                      matching_seconds=round(time.perf_counter() - started, 2))
        record["seqsal"][label] = result
        if label == default_label:
            regions = pd.read_csv(os.path.join(run_dir, "regions.tsv"), sep="\t")
            record["instance_precision"] = instance_precision(motifs, seqlets, regions, args.demo / "planted.bed",
                                                              database)

    if args.modisco:
        motifs, seconds, error = run_modisco(args.modisco, one_hot, hyp, workdir)
        record["modisco"] = {**evaluate(motifs, planted_names, database), "seconds": round(seconds, 2),
                             "error": error, "executable": args.modisco}
    else:
        record["modisco"] = {"error": "no modisco executable (pip install modisco-lite, or pass --modisco)"}

    record["scale"] = [synthetic_scale(n) for n in args.scale]
    record["scale_rare"] = [synthetic_scale(n, rare=args.rare) for n in args.scale] if args.rare else []
    if not args.no_logos:
        record["logos_per_second"] = logo_speed(run_dir)
    print(json.dumps(record, indent=2))
    print("\n| tool | seqlets | motifs | planted recovered (of 6) | spurious | redundant | time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, result in record["seqsal"].items():
        print(f"| seqsal motifs, {label} | {result['n_seqlets']} | {result['n_motifs']} | {result['n_recovered']} "
              f"({', '.join(result['recovered'])}) | {result['spurious']} | {result['redundant']} | "
              f"{result['discovery_seconds']} + {result['matching_seconds']} matching |")
    print("\ninstances of the default motifs on a planted site of their match, by seqlet q:",
          ", ".join(f"q <= {r['max_q']:g}: {r['on_planted_site']} of {r['instances']}"
                    for r in record.get("instance_precision", [])))
    m = record["modisco"]
    if "n_motifs" in m:
        print(f"| tfmodisco-lite `modisco motifs -n 2000 -w 600` | (own) | {m['n_motifs']} | {m['n_recovered']} "
              f"({', '.join(m['recovered'])}) | {m['spurious']} | {m['redundant']} | {m['seconds']} |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

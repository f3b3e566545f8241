"""Planted-motif benchmark of the peak caller (issue 3), with tangermeme and tfmodisco-lite side by side.

Ground truth: ``data/demo/planted.bed`` (733 sites of 6 JASPAR motifs planted in the demo genome; REST is a
repressor, the others activators). The demo model's attributions (``seqsal attribute`` on the demo, run here
into a temporary folder) are called by

* seqsal (``call_peaks_from_run``) with the shuffled null and with the Laplace null, across FDR settings;
* tangermeme ``recursive_seqlets`` across p-value thresholds (its default 0.01 included) and with its
  control-based FDR (``X_control`` = the same shuffled-null tracks seqsal uses), positive and negated tracks;
* tfmodisco-lite ``extract_seqlets`` across target FDRs, at its default geometry (21-bp windows + 10-bp flanks)
  and at a motif-sized one (10-bp windows, 1-bp flanks).

A call is a hit when it overlaps a planted site of its region by at least 50 % of both lengths. Precision,
recall, F1, the empirical FDR (1 - precision) and a lenient FDR (calls that touch no planted site at all) are
reported. Speed: calling 10^7 bp of track in a fresh process, first call included (numba compilation for
tangermeme), on tiled copies of the demo tracks.

Run: ``python benchmarks/peaks_planted.py [--out benchmarks/peaks_planted.json]`` (about 5 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqsal.io import region_arrays

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
REPRESSORS = {"REST"}


def attribute_demo(out: Path, extra: list[str]) -> float:
    """Run ``seqsal attribute`` on the demo into ``out``; returns its wall time (s)."""
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(DEMO / "genome.fa"), str(DEMO / "regions.bed"),
               "--model", str(DEMO / "model.safetensors"), "-o", str(out), "--force", "--quiet", *extra]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return time.perf_counter() - started


def load_tracks(out: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Projected tracks ``(N, L)``, validity ``(N, L)`` and regions.tsv of a run folder."""
    data = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    one_hot, hyp, lengths = data["one_hot"].padded(), data["hypothetical"].padded(), data.lengths
    track = (hyp * one_hot).sum(1)
    valid = (one_hot.max(1) == 1) & (np.arange(track.shape[1])[None] < lengths[:, None])
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    return np.where(valid, track, 0).astype(np.float32), valid, regions


def planted_truth(regions: pd.DataFrame) -> pd.DataFrame:
    """Planted sites lying wholly inside a region, in that region's row coordinates."""
    sites = pd.read_csv(DEMO / "planted.bed", sep="\t", header=None,
                        names=["chrom", "start", "end", "motif", "score", "strand"])
    rows = []
    for region in regions.itertuples():
        inside = sites[(sites.chrom == region.chrom) & (sites.start >= region.start) & (sites.end <= region.end)]
        for site in inside.itertuples():
            rows.append((region.index, site.start - region.start, site.end - region.start, site.motif,
                         "-" if site.motif in REPRESSORS else "+"))
    return pd.DataFrame(rows, columns=["region_index", "offset_start", "offset_end", "motif", "expected_sign"])


def score_calls(calls: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Precision, recall, F1 (>= 50 % reciprocal overlap within a region) and FDRs of ``calls``."""
    n_calls = len(calls)
    hit_call = np.zeros(n_calls, bool)
    touch_call = np.zeros(n_calls, bool)
    hit_truth = np.zeros(len(truth), bool)
    truth_by_region = {k: g for k, g in truth.groupby("region_index")}
    for i, (region, a, b) in enumerate(zip(calls["region_index"], calls["offset_start"], calls["offset_end"])):
        sites = truth_by_region.get(int(region))
        if sites is None:
            continue
        overlap = np.minimum(b, sites["offset_end"].to_numpy()) - np.maximum(a, sites["offset_start"].to_numpy())
        overlap = np.maximum(overlap, 0)
        reciprocal = (overlap >= 0.5 * (b - a)) & (overlap >= 0.5 * (sites["offset_end"] - sites["offset_start"]))
        touch_call[i] = (overlap > 0).any()
        if reciprocal.any():
            hit_call[i] = True
            hit_truth[sites.index[reciprocal.to_numpy()]] = True
    precision = hit_call.mean() if n_calls else float("nan")
    recall = hit_truth.mean() if len(truth) else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if n_calls and precision + recall > 0 else 0.0
    return {"calls": n_calls, "precision": _r(precision), "recall": _r(recall), "f1": _r(f1),
            "empirical_fdr": _r(1 - precision) if n_calls else None,
            "lenient_fdr": _r(1 - touch_call.mean()) if n_calls else None}


def _r(value: float) -> float:
    return round(float(value), 4)


def seqsal_rows(out: Path, truth: pd.DataFrame, fdrs: list[float]) -> list[dict]:
    from seqsal.peaks import call_peaks_from_run

    rows = []
    for null in ("shuffle", "laplace"):
        for fdr in fdrs:
            started = time.perf_counter()
            calls = call_peaks_from_run(out, null=null, fdr=fdr, write=False)
            seconds = time.perf_counter() - started
            seqlets = calls.seqlets  # every call of every region (duplicate_of kept), as the peers are scored
            row = {"tool": "seqsal", "setting": f"null={null}", "fdr": fdr, "seconds": round(seconds, 3),
                   **score_calls(seqlets, truth)}
            rows.append(row)
    return rows


def tangermeme_calls(track: np.ndarray, threshold: float, control: np.ndarray | None = None,
                     target_fdr: float = 0.1) -> pd.DataFrame:
    """recursive_seqlets on the positive and the negated track (as its docstring says), in one table."""
    import torch
    from tangermeme.seqlet import recursive_seqlets

    parts = []
    for sign in (1, -1):
        x = torch.from_numpy(sign * track)
        kwargs = {"X_control": torch.from_numpy(sign * control), "target_fdr": target_fdr} if control is not None else {}
        found = recursive_seqlets(x, threshold=threshold, **kwargs)
        found = found.rename(columns={"example_idx": "region_index", "start": "offset_start", "end": "offset_end"})
        parts.append(found.assign(sign=sign))
    calls = pd.concat(parts, ignore_index=True)
    positive = calls[calls.sign > 0]
    negative = calls[calls.sign < 0]
    keep = []  # drop negative seqlets overlapping a positive one (tangermeme's recipe)
    for row in negative.itertuples():
        same = positive[positive.region_index == row.region_index]
        keep.append(not ((same.offset_start < row.offset_end) & (same.offset_end > row.offset_start)).any())
    return pd.concat([positive, negative[np.array(keep, bool)]], ignore_index=True)


def tangermeme_rows(track, truth, control) -> list[dict]:
    rows = []
    for threshold in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8):
        started = time.perf_counter()
        calls = tangermeme_calls(track, threshold)
        rows.append({"tool": "tangermeme recursive_seqlets", "setting": f"p<{threshold:g}", "fdr": None,
                     "seconds": round(time.perf_counter() - started, 3), **score_calls(calls, truth)})
    for fdr in (0.05, 0.1):
        started = time.perf_counter()
        calls = tangermeme_calls(track, 0.01, control, fdr)
        rows.append({"tool": "tangermeme recursive_seqlets", "setting": "X_control=shuffled null", "fdr": fdr,
                     "seconds": round(time.perf_counter() - started, 3), **score_calls(calls, truth)})
    return rows


def modisco_calls(track: np.ndarray, one_hot_shape, target_fdr: float, window: int, flank: int) -> pd.DataFrame:
    from modiscolite.extract_seqlets import extract_seqlets

    seqlets, _ = extract_seqlets(attribution_scores=track.astype(np.float32), window_size=window, flank=flank,
                                 suppress=int(0.5 * window) + flank, target_fdr=target_fdr,
                                 min_passing_windows_frac=0.03, max_passing_windows_frac=0.2,
                                 weak_threshold_for_counting_sign=0.8)
    return pd.DataFrame({"region_index": [s.example_idx for s in seqlets], "offset_start": [s.start for s in seqlets],
                         "offset_end": [s.end for s in seqlets]})


def modisco_rows(track, truth) -> list[dict]:
    rows = []
    for window, flank, label in ((21, 10, "default geometry (21-bp window, 10-bp flanks)"),
                                 (10, 1, "motif-sized (10-bp window, 1-bp flanks; flank=0 empties its tracks)")):
        for fdr in (0.01, 0.05, 0.2):
            started = time.perf_counter()
            calls = modisco_calls(track, None, fdr, window, flank)
            rows.append({"tool": "tfmodisco-lite extract_seqlets", "setting": label, "fdr": fdr,
                         "seconds": round(time.perf_counter() - started, 3), **score_calls(calls, truth)})
    return rows


SPEED_SNIPPET = {
    "seqsal": (
        "import time, numpy as np; t0 = time.perf_counter(); import seqsal; t1 = time.perf_counter(); "
        "x = np.load('{path}'); t2 = time.perf_counter(); df = seqsal.call_peaks(x); t3 = time.perf_counter(); "
        "print(t1 - t0, t3 - t2, len(df))"
    ),
    "seqsal (one 10^7-bp row)": (
        "import time, numpy as np; t0 = time.perf_counter(); import seqsal; t1 = time.perf_counter(); "
        "x = np.load('{path}').reshape(1, -1); t2 = time.perf_counter(); df = seqsal.call_peaks(x); "
        "t3 = time.perf_counter(); print(t1 - t0, t3 - t2, len(df))"
    ),
    "tangermeme": (
        "import time, numpy as np; t0 = time.perf_counter(); import torch; "
        "from tangermeme.seqlet import recursive_seqlets; t1 = time.perf_counter(); "
        "x = torch.from_numpy(np.load('{path}')); t2 = time.perf_counter(); df = recursive_seqlets(x); "
        "t3 = time.perf_counter(); print(t1 - t0, t3 - t2, len(df))"
    ),
}


def speed_rows(track: np.ndarray, positions: int = 10_000_000) -> list[dict]:
    """Fresh-process timing: import, then the first call on ``positions`` bp (tiled copies of the demo tracks)."""
    copies = -(-positions // track.size)
    big = np.tile(track, (copies, 1))
    rows_needed = -(-positions // track.shape[1])
    big = np.ascontiguousarray(big[:rows_needed])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "track.npy")
        np.save(path, big)
        for tool, snippet in SPEED_SNIPPET.items():
            result = subprocess.run([sys.executable, "-c", snippet.format(path=path)], capture_output=True,
                                    text=True, cwd=ROOT)
            if result.returncode != 0:
                rows.append({"tool": tool, "error": result.stderr.strip().splitlines()[-1]})
                continue
            import_s, call_s, n = result.stdout.split()
            rows.append({"tool": tool, "positions": int(big.size), "import_seconds": _r(float(import_s)),
                         "first_call_seconds": _r(float(call_s)), "calls": int(n)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "peaks_planted.json"))
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        results["demo_seconds_no_peaks"] = round(attribute_demo(run, ["--no-peaks"]), 2)
        results["demo_seconds_with_peaks"] = round(attribute_demo(run, []), 2)
        record = json.loads((run / "run.json").read_text())
        results["demo_run_json_peaks_timing"] = record["peaks"]["timing_seconds"]
        track, valid, regions = load_tracks(run)
        truth = planted_truth(regions)
        results["n_planted_in_regions"] = int(len(truth))
        rows = seqsal_rows(run, truth, [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5])
        if not args.skip_peers:
            with np.load(run / "null.npz") as null:
                control = np.zeros((null["projected"].shape[0], track.shape[1]), np.float32)
                control[:, :null["projected"].shape[1]] = np.where(null["valid"], null["projected"], 0)
            for name, function in (("tangermeme", lambda: tangermeme_rows(track, truth, control)),
                                   ("modisco", lambda: modisco_rows(track, truth))):
                try:
                    rows += function()
                except Exception as error:  # noqa: BLE001 - a peer that fails is reported, not hidden
                    rows.append({"tool": name, "error": f"{type(error).__name__}: {error}"})
        results["accuracy"] = rows
        results["speed_1e7"] = speed_rows(track)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    table = pd.DataFrame(results["accuracy"])
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 50):
        print(table.to_string(index=False))
        print(pd.DataFrame(results["speed_1e7"]).to_string(index=False))
    print({k: v for k, v in results.items() if k not in ("accuracy", "speed_1e7")})


if __name__ == "__main__":
    main()

"""Issue 16's experiments: attribution priors against plain training, on independent simulated worlds.

World k (``--worlds N``): three "chromosomes" (train, valid, test) of ``--width``-bp windows (table default 250 bp:
half the cost of the demo's 500 bp per window, which is what lets 60 runs train near convergence on one core) laid
end to end, each
random sequence (GC 0.42) with 0-4 sites of six JASPAR motifs planted in bases ``--plant-from`` to ``width - 10``
(the process of data/demo/make_demo.py's simulated windows, whose 40,000 windows are what let the demo model learn
the motifs; the demo genome's few thousand tiled windows are too few: a plain model reaches r ~0.06 on them in 8
epochs); label = summed motif weights of the planted sites + N(0, 0.1). Worlds differ in their seed (``k``) and in
their motifs and weights (:func:`world_weights`: world 0 the demo's six motifs and weights, world 1 six others, with
another weight vector and another repressor, worlds 2+ six motifs and weights drawn from the seed). Training set
sizes (``--sizes``): the first ``n`` training windows (the same validation and test windows for every size). The
demo architecture; each variant at its default settings (lazy gradient terms: ``TrainOptions.prior_every``),
``--seeds`` seeds, early stopping on validation r (``--patience``; the best epoch is reported per run). Variants
(``--variants``, :data:`VARIANTS` by default): ``fourier`` is the prior on positive windows only (label above the
training median, Tseng et al.), ``rc_consistency`` the RC term on maps centred per position over the batch; the first
versions of both (``fourier_all``: every window; ``rc_uncentred``) and the Fourier weights 0.1 and 0.3
(``fourier_w0.1``, ``fourier_w0.3``) are in :data:`EXTRA_VARIANTS`.

Per run (``experiment.tsv``, one row per world, size, variant and seed, appended as each run ends; ``--reuse`` skips
the runs already there): held-out (test) Pearson r; the gradient x input maps (eval mode) of the test windows scored
per base (|map| summed over channels) against the planted sites (AUROC, AUPRC; every base of a site is a positive);
seqlet F1 at the default FDR (0.05): :func:`seqsal.call_peaks` on the test maps with a shuffle null (the same
model's maps of one dinucleotide-shuffled copy of each test window, :func:`seqsal.dinucleotide_shuffle`, the same
copies for every model of a world), a hit being >= 50 % reciprocal overlap with a planted site
(``benchmarks/zoo/calibrate.py``'s ``f1``), and at FDR 0.2; CPU seconds per epoch (process time, one torch thread:
steps, validation pass, checkpoint). Table (Markdown, ``experiment.md``): means over seeds with the spread (sd over
seeds); stability: the mean over windows and seed pairs of the Spearman correlation of the signed per-base maps;
where the attribution lies (:func:`map_diagnostics`); the differences between variants paired by seed
(:data:`CONTRASTS`, those whose two variants were run). A killed grid restarts where it stopped with ``--reuse``
(runs resume from their checkpoints).

OR-logic worlds (``--label-model or``; default ``additive``, the worlds above): the label survives the deletion of one
site, the case saliency cutout is meant for. Each window is a positive with probability 0.5 and then carries
:data:`OR_SITES` (2-4) sites of the world's activators (the motifs of positive weight; no repressor), else no site
(random sequence only); label 1 / 0 ("any site present"), no label noise. Trained as binary classification
(``TrainOptions.task = "classification"``: cross-entropy on the logit, early stopping on validation AUROC). Per run,
``test_r`` is then the Pearson r of the held-out logits with the 0/1 labels (point-biserial), ``test_auroc`` the
held-out AUROC of the predictions (a column only these worlds have) and ``valid_r`` the best validation AUROC. Give
these worlds their own ``--out``: the folders and map files are named as the additive worlds'.

Shortcut (``--shortcut``): an adapter 20-mer planted at bases 30-50 of 30 % of the positive training windows
(label > 0.5). A plain model and ones trained with ``--mask-prior`` over the adapter's positions; reliance = mean
prediction drop when the adapter is replaced by the original bases in those training windows, and the mean rise
when it is planted into the positive test windows; clean held-out r.

    python benchmarks/train_experiment.py [--worlds 2] [--sizes 6000 600] [--seeds 3] [--epochs 24] [--threads 1]
    python benchmarks/train_experiment.py --shortcut [--mask-weights 10 100]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "zoo"))
sys.path.insert(0, str(ROOT.parent / "data" / "demo"))

from calibrate import f1  # noqa: E402
from make_demo import WEIGHTS  # noqa: E402
from train_priors import DEMO  # noqa: E402

import seqsal  # noqa: E402
from seqsal.encode import one_hot_encode  # noqa: E402
from seqsal.motifs import read_meme  # noqa: E402
from seqsal.simulate import plant_sites, random_sequence  # noqa: E402
from seqsal.train import train_model  # noqa: E402
from seqsal.train_options import TrainOptions  # noqa: E402
from seqsal.train_priors import fourier_penalty, input_gradients, spearman  # noqa: E402

VARIANTS = {
    "plain": {},
    "fourier": {"fourier_prior": 1.0},  # positive windows only (label above the training median), weight 1
    "saliency_cutout": {"saliency_cutout": 0.5},
    "random_cutout": {"random_cutout": 0.5},
    "rc_consistency": {"consistency": "rc", "consistency_weight": 1.0},  # maps centred per position over the batch
}
# not in the default grid (--variants): the first version of each term, and the Fourier prior's weight sweep
EXTRA_VARIANTS = {
    "fourier_all": {"fourier_prior": 1.0, "fourier_positives": None},
    "fourier_all_w0.1": {"fourier_prior": 0.1, "fourier_positives": None},
    "fourier_w0.1": {"fourier_prior": 0.1},
    "fourier_w0.3": {"fourier_prior": 0.3},
    "rc_uncentred": {"consistency": "rc", "consistency_weight": 1.0, "consistency_centre": False},
    # saliency cutout against its control at other settings (session 11): probability 0.1; N (all-zero) fill
    "saliency_cutout_0.1": {"saliency_cutout": 0.1},
    "random_cutout_0.1": {"random_cutout": 0.1},
    "saliency_cutout_n": {"saliency_cutout": 0.5, "cutout_fill": "n"},
    "random_cutout_n": {"random_cutout": 0.5, "cutout_fill": "n"},
    "saliency_cutout_short": {"saliency_cutout": 0.5, "cutout_span": (4, 8)},
    "random_cutout_short": {"random_cutout": 0.5, "cutout_span": (4, 8)},
}
ALL_VARIANTS = {**VARIANTS, **EXTRA_VARIANTS}
# seed-paired contrasts (variant, reference), each reported when both were run
CONTRASTS = (("fourier", "plain"), ("fourier_w0.3", "plain"), ("fourier_w0.1", "plain"), ("fourier_all", "plain"),
             ("fourier", "fourier_all"), ("fourier_w0.1", "fourier_all_w0.1"), ("saliency_cutout", "random_cutout"),
             ("rc_consistency", "plain"), ("rc_consistency", "rc_uncentred"),
             ("saliency_cutout_0.1", "random_cutout_0.1"), ("saliency_cutout_n", "random_cutout_n"),
             ("saliency_cutout_short", "random_cutout_short"))
ADAPTER = "AGATCGGAAGAGCACACGTC"  # the Illumina TruSeq adapter's first 20 bases
OFFSET, WIDTH = 30, 500
MOTIF_FILE = ROOT.parent / "data/motifs/jaspar_subset.meme"
# world 1: six motifs the demo does not use, another weight vector, another repressor (YY1 in place of REST)
OTHER_WEIGHTS = {"TP53": 1.0, "FOXA1": 0.9, "HNF4A": 0.8, "IRF8": 0.7, "HNF1A": 0.6, "YY1": -1.0}
LABEL_MODELS = ("additive", "or")  # --label-model: summed site weights + noise (regression); "any site" (binary)
OR_SITES = (2, 4)  # OR-logic worlds: activator sites per positive window, inclusive range


def world_weights(k: int, names: list[str]) -> dict[str, float]:
    """Motif -> label weight of world ``k``: the demo's (0), :data:`OTHER_WEIGHTS` (1), else six of ``names`` with
    weights drawn from U(0.5, 1.2), one of them negative (a repressor), from the seed ``k``."""
    if k < 2:
        return dict(WEIGHTS if k == 0 else OTHER_WEIGHTS)
    rng = np.random.default_rng([16, k])
    chosen = rng.choice(sorted(names), 6, replace=False)
    weights = rng.uniform(0.5, 1.2, 6) * np.array([1, 1, 1, 1, 1, -1])
    return {str(name): round(float(w), 2) for name, w in zip(chosen, weights)}


def simulated_world(out: Path, sizes: dict[str, int], seed: int, shortcut: bool,
                    weights: dict[str, float] | None = None, width: int = WIDTH, plant_from: int = 60,
                    label_model: str = "additive") -> dict:
    """Write ``world.fa`` and ``labels.tsv``; return per chromosome the one-hot windows ``x`` ``(N, 4, width)``,
    labels ``y``, the planted-site mask ``truth`` ``(N, width)``, the sites ``sites`` (per window a list of
    ``(start, end, motif)``, window coordinates), the label rows ``rows`` and the adapter carriers.

    ``label_model``: ``additive``, 0-4 sites of any of the world's motifs and label = summed weights + N(0, 0.1);
    ``or``, a positive with probability 0.5 carrying :data:`OR_SITES` sites of the activators (positive weight)
    and label 1, else no site and label 0 (:func:`or_window`)."""
    if label_model not in LABEL_MODELS:
        raise ValueError(f"unknown label model {label_model!r}; choose one of {LABEL_MODELS}")
    weights = weights or WEIGHTS
    rng = np.random.default_rng(seed)
    motifs = {m.name: m.pwm for m in read_meme(MOTIF_FILE) if m.name in weights}
    activators = {name: pwm for name, pwm in motifs.items() if weights[name] > 0}
    world: dict = {}
    rows, fasta = [], []
    for chrom, n in sizes.items():
        windows, truth, labels, carriers, originals, sites_of = [], np.zeros((n, width), bool), np.empty(n), [], [], []
        for i in range(n):
            sequence = random_sequence(width, rng)
            if label_model == "or":
                sites, labels[i] = or_window(sequence, activators, rng, plant_from, width - 10)
            else:
                sites = plant_sites(sequence, motifs, int(rng.integers(0, 5)), rng, plant_from, width - 10)
            for _, lo, hi, _ in sites:
                truth[i, lo:hi] = True
            sites_of.append([(lo, hi, name) for name, lo, hi, _ in sites])
            if label_model == "additive":
                labels[i] = sum(weights[name] for name, *_ in sites) + rng.normal(0, 0.1)
            if shortcut and chrom == "train" and labels[i] > 0.5 and rng.random() < 0.3:
                originals.append(sequence[OFFSET:OFFSET + 20].tobytes().decode())
                sequence[OFFSET:OFFSET + 20] = np.frombuffer(ADAPTER.encode(), np.uint8)
                carriers.append(i)
            windows.append(sequence.tobytes().decode())
            rows.append((chrom, i * width, (i + 1) * width, labels[i]))
        fasta.append(f">{chrom}\n" + "".join(windows) + "\n")
        world[chrom] = {"x": np.stack([one_hot_encode(w) for w in windows]).astype(np.float32), "y": labels,
                        "truth": truth, "sites": sites_of, "carriers": carriers, "originals": originals}
    (out / "world.fa").write_text("".join(fasta))
    world["rows"] = pd.DataFrame(rows, columns=["chrom", "start", "end", "activity"])
    world["rows"].to_csv(out / "labels.tsv", sep="\t", index=False)
    (out / "adapter.bed").write_text("".join(f"train\t{i * width + OFFSET}\t{i * width + OFFSET + 20}\n"
                                             for i in world["train"]["carriers"]))
    return world


def or_window(sequence: np.ndarray, activators: dict[str, np.ndarray], rng: np.random.Generator, lo: int,
              hi: int) -> tuple[list[tuple[str, int, int, str]], float]:
    """One window of an OR-logic world, planted in place: with probability 0.5 a positive, with a number of sites
    drawn uniformly from :data:`OR_SITES` of the ``activators`` (name -> PWM ``(4, W)``) inside ``[lo, hi)``, and
    label 1.0; else no site and label 0.0. Returns :func:`seqsal.simulate.plant_sites`'s sites and the label. A
    positive keeps a site after any one site is erased, so its label survives a cutout of one feature."""
    if rng.random() >= 0.5:
        return [], 0.0
    n_sites = int(rng.integers(OR_SITES[0], OR_SITES[1] + 1))
    sites = plant_sites(sequence, activators, n_sites, rng, lo, hi)
    return sites, float(len(sites) > 0)


def subset_labels(rows: pd.DataFrame, n_train: int) -> pd.DataFrame:
    """The label rows with only the first ``n_train`` training windows (validation and test rows all kept)."""
    train = rows["chrom"] == "train"
    return rows[~train | (train.cumsum() <= n_train)]


def maps_of(model: torch.nn.Module, x: np.ndarray, batch: int = 250) -> np.ndarray:
    """Gradient x input summed over channels ``(N, L)`` (eval mode), in batches of ``batch`` windows."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        chunk = torch.as_tensor(x[i:i + batch])
        _, gradients = input_gradients(lambda t: model(t), chunk, create_graph=False)
        out.append((gradients * chunk).sum(dim=1).detach().numpy())
    return np.concatenate(out)


def seqlet_f1(maps: np.ndarray, null_maps: np.ndarray, sites: list, fdr: float = 0.05) -> tuple[float, int]:
    """Seqlet F1 of :func:`seqsal.call_peaks` on ``maps`` ``(N, L)`` with the shuffle null ``null_maps``, against
    ``sites`` (per window ``(start, end, motif)``; hit: >= 50 % reciprocal overlap); and the number of calls."""
    calls = seqsal.call_peaks(maps, null_track=null_maps, fdr=fdr)
    intervals = list(zip(calls["region_index"].astype(int), calls["offset_start"].astype(int),
                         calls["offset_end"].astype(int)))
    return f1(intervals, sites)


def map_diagnostics(maps: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Where the attribution of maps ``(N, L)`` lies, against the planted-site mask ``truth`` ``(N, L)``.

    Returns
    -------
    dict
        ``site_enrichment``: the share of the summed ``|map|`` on site bases over the share of site bases (1: no
        preference); ``top_on_site``: among windows with a site, the fraction whose largest ``|map|`` is on a
        site base; ``high_freq``: the Fourier prior's score of the maps (:func:`seqsal.train_priors.fourier_penalty`,
        the high-frequency share of the smoothed ``|map|`` spectrum; lower is smoother); ``profile_share``: the sd
        over positions of the mean map per position (over windows) divided by the sd of the maps, the size of a
        sequence-independent positional profile (about ``1 / sqrt(N)`` for maps without one).
    """
    magnitude = np.abs(maps)
    with_site = truth.any(axis=1)
    top = np.take_along_axis(truth, magnitude.argmax(axis=1)[:, None], axis=1)[:, 0]
    share = magnitude[truth].sum() / max(magnitude.sum(), 1e-30)
    return {"site_enrichment": float(share / truth.mean()), "top_on_site": float(top[with_site].mean()),
            "high_freq": float(fourier_penalty(torch.as_tensor(maps[:, None], dtype=torch.float32))),
            "profile_share": float(maps.mean(axis=0).std() / max(maps.std(), 1e-30))}


def pair_stability(maps: list[np.ndarray]) -> list[float]:
    """Per pair of ``maps`` (one ``(N, L)`` per training seed): the mean over windows of the Spearman correlation of
    the two maps of a window; windows with a constant map (NaN correlation) are left out."""
    return [float(np.nanmean([spearman(a[i], b[i]) for i in range(len(a))]))
            for a, b in itertools.combinations(maps, 2)]


def train_one(args: argparse.Namespace, name: str, seed: int, extra: dict, batch_size: int = 64,
              labels: Path | None = None, epochs: int | None = None, out: Path | None = None,
              resume: bool = False) -> tuple[dict, torch.nn.Module]:
    """Train one model on ``<out>/world.fa`` (default ``args.out``); its summary and the loaded model. ``resume``:
    continue from the run's checkpoint (a killed grid restarted with ``--reuse`` redoes no finished epoch)."""
    out = out or args.out
    options = TrainOptions(model_config=DEMO, window=args.width, valid_chroms=["valid"], test_chroms=["test"],
                           epochs=epochs or args.epochs, patience=args.patience, batch_size=batch_size, seed=seed,
                           **extra)
    path = out / f"{name}_seed{seed}.safetensors"
    summary = train_model(out / "world.fa", labels or out / "labels.tsv", path, options, quiet=True,
                          report=out / f"{name}_seed{seed}.html", resume=resume, force=not resume)
    return summary, seqsal.load_model(path).module.eval()


def held_out_classification(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Held-out metrics of a binary model: ``test_r``, the Pearson r of the logits ``(N,)`` with the 0/1 ``labels``
    ``(N,)`` (point-biserial), and ``test_auroc``, the AUROC of the logits."""
    return {"test_r": float(np.corrcoef(logits, labels)[0, 1]), "test_auroc": float(roc_auc_score(labels, logits))}


def run_row(args: argparse.Namespace, key: dict, test: dict, null_x: np.ndarray, folder: Path) -> dict:
    """Train one (world, size, variant, seed) in the world's ``folder``, save its test maps in ``args.out/maps``,
    return its row of ``experiment.tsv``. OR-logic worlds (``args.label_model``): trained as classification, with
    :func:`held_out_classification` in place of the trainer's Pearson r."""
    epochs = args.epochs if key["size"] == max(args.sizes) else args.epochs_small
    binary = getattr(args, "label_model", "additive") == "or"
    extra = {**ALL_VARIANTS[key["variant"]], **({"task": "classification"} if binary else {})}
    summary, model = train_one(args, f"w{key['world']}_n{key['size']}_{key['variant']}", key["seed"],
                               extra, labels=folder / f"labels_{key['size']}.tsv", epochs=epochs,
                               out=folder, resume=args.reuse)
    if binary:
        with torch.no_grad():
            logits = np.concatenate([model(torch.as_tensor(test["x"][i:i + 250]))[:, 0].numpy()
                                     for i in range(0, len(test["x"]), 250)])
        held_out = held_out_classification(logits, test["y"])
    else:
        held_out = {"test_r": summary["metrics"]["test"]["pearson"]["activity"]}
    maps = maps_of(model, test["x"])
    np.save(args.out / "maps" / f"{stem(key)}.npy", maps)
    score = np.abs(maps).ravel()
    null_maps = maps_of(model, null_x)
    f_score, n_calls = seqlet_f1(maps, null_maps, test["sites"])
    f_loose, n_loose = seqlet_f1(maps, null_maps, test["sites"], fdr=0.2)
    history = summary["history"]
    return {**key, **held_out,
            "valid_r": summary["best_score"], "auroc": roc_auc_score(test["truth"].ravel(), score),
            "auprc": average_precision_score(test["truth"].ravel(), score), "seqlet_f1": f_score, "n_seqlets": n_calls,
            "seqlet_f1_fdr0.2": f_loose, "n_seqlets_fdr0.2": n_loose,
            "epochs": len(history), "best_epoch": summary["best_epoch"], "max_epochs": epochs,
            "cpu_s_per_epoch": float(np.mean([h["cpu_seconds"] for h in history])),
            "wall_s_per_epoch": float(np.mean([h["seconds"] for h in history]))}


def stem(key: dict) -> str:
    return f"w{key['world']}_n{key['size']}_{key['variant']}_seed{key['seed']}"


METRICS = ("test_r", "auroc", "auprc", "seqlet_f1", "seqlet_f1_fdr0.2")


def metrics_of(frame: pd.DataFrame, prefix: str = "") -> tuple[str, ...]:
    """:data:`METRICS`, with the held-out AUROC (``test_auroc``) after ``test_r`` where ``frame`` has the column
    ``prefix + "test_auroc"`` (runs of OR-logic worlds; ``prefix="d_"``: their contrasts)."""
    return METRICS[:1] + ("test_auroc",) + METRICS[1:] if prefix + "test_auroc" in frame else METRICS


def summarise(frame: pd.DataFrame, maps_dir: Path, truths: dict[int, np.ndarray] | None = None) -> pd.DataFrame:
    """Per world, size and variant: means and sds over seeds, stability (mean and sd over seed pairs), best epoch,
    CPU time per epoch against plain training of the same world and size; with the test windows' site masks
    ``truths`` (per world), the means over seeds of :func:`map_diagnostics`."""
    out = []
    for (world, size, variant), part in frame.groupby(["world", "size", "variant"], sort=False):
        maps = [np.load(maps_dir / f"{stem(row)}.npy") for row in part.to_dict("records")]
        pairs = pair_stability(maps)
        plain = frame[(frame["world"] == world) & (frame["size"] == size) & (frame["variant"] == "plain")]
        row = {"world": world, "size": size, "variant": variant, "seeds": len(part),
               "stability": float(np.mean(pairs)) if pairs else np.nan,
               "stability_sd": float(np.std(pairs, ddof=1)) if len(pairs) > 1 else np.nan}
        for column in metrics_of(frame):
            row[column], row[column + "_sd"] = part[column].mean(), part[column].std(ddof=1)
        row.update(n_seqlets=part["n_seqlets"].mean(), **{"n_seqlets_fdr0.2": part["n_seqlets_fdr0.2"].mean()},
                   best_epoch=part["best_epoch"].mean(), epochs=part["epochs"].mean(),
                   max_epochs=part["max_epochs"].max(), cpu_s_per_epoch=part["cpu_s_per_epoch"].mean(),
                   x_plain=part["cpu_s_per_epoch"].mean() / plain["cpu_s_per_epoch"].mean() if len(plain) else np.nan)
        if truths is not None:
            row.update(pd.DataFrame([map_diagnostics(m, truths[world]) for m in maps]).mean().to_dict())
        out.append(row)
    return pd.DataFrame(out)


def paired_contrasts(frame: pd.DataFrame, summary: pd.DataFrame,
                     pairs: tuple[tuple[str, str], ...] = CONTRASTS) -> pd.DataFrame:
    """Per world, size and pair ``(variant, reference)``: the difference variant - reference of each metric, paired
    by training seed (same initialisation and batch order), mean and sd over seeds; and the difference in stability."""
    out = []
    keys = ["world", "size", "seed"]
    for (world, size), part in frame.groupby(["world", "size"], sort=False):
        for variant, reference in pairs:
            a = part[part["variant"] == variant].set_index(keys)
            b = part[part["variant"] == reference].set_index(keys)
            both = a.index.intersection(b.index)
            if len(both) == 0:
                continue
            row = {"world": world, "size": size, "contrast": f"{variant} - {reference}", "seeds": len(both)}
            for column in metrics_of(frame):
                delta = a.loc[both, column] - b.loc[both, column]
                row["d_" + column], row["d_" + column + "_sd"] = delta.mean(), delta.std(ddof=1)
            stab = summary.set_index(["world", "size", "variant"])["stability"]
            row["d_stability"] = stab.get((world, size, variant), np.nan) - stab.get((world, size, reference), np.nan)
            out.append(row)
    return pd.DataFrame(out)


def _pm(row: pd.Series, column: str, signed: bool = False) -> str:
    sd = row.get(column + "_sd", np.nan)
    value = f"{row[column]:+.3f}" if signed else f"{row[column]:.3f}"
    return f"{value} ± {sd:.3f}" if np.isfinite(sd) else value


def markdown(summary: pd.DataFrame, contrasts: pd.DataFrame | None = None) -> str:
    """The summary as Markdown tables: mean ± sd over seeds (stability: over seed pairs); then the paired contrasts.
    Runs with a held-out AUROC (OR-logic worlds) get its column after test r; "AUROC" is the maps' against the
    sites."""
    binary = "test_auroc" in summary
    lines = ["| world | train windows | variant | seeds | test r | " + ("held-out AUROC | " if binary else "")
             + "AUROC | AUPRC | seqlet F1 @0.05 (calls) | "
             "seqlet F1 @0.2 (calls) | stability | best epoch / run / max | CPU s / epoch | x plain |",
             "|" + "---|" * (13 + binary)]
    for _, row in summary.iterrows():
        lines.append(f"| {row['world']} | {row['size']:,} | {row['variant']} | {row['seeds']} | {_pm(row, 'test_r')} | "
                     + (f"{_pm(row, 'test_auroc')} | " if binary else "") +
                     f"{_pm(row, 'auroc')} | {_pm(row, 'auprc')} | {_pm(row, 'seqlet_f1')} ({row['n_seqlets']:.0f}) | "
                     f"{_pm(row, 'seqlet_f1_fdr0.2')} ({row['n_seqlets_fdr0.2']:.0f}) | {_pm(row, 'stability')} | "
                     f"{row['best_epoch']:.1f} / {row['epochs']:.1f} / {row['max_epochs']} | "
                     f"{row['cpu_s_per_epoch']:.2f} | {row['x_plain']:.2f} |")
    if "site_enrichment" in summary:
        lines += ["", "| world | train windows | variant | |map| site enrichment | top base on a site | "
                  "high-frequency share | positional profile share |", "|" + "---|" * 7]
        lines += [f"| {row['world']} | {row['size']:,} | {row['variant']} | {row['site_enrichment']:.2f} | "
                  f"{row['top_on_site']:.3f} | {row['high_freq']:.3f} | {row.get('profile_share', np.nan):.3f} |"
                  for _, row in summary.iterrows()]
    if contrasts is not None and len(contrasts):
        columns = metrics_of(contrasts, "d_")
        lines += ["", "| world | train windows | contrast (paired by seed) | seeds | Δ test r | "
                  + ("Δ held-out AUROC | " if "test_auroc" in columns else "") + "Δ AUROC | Δ AUPRC | "
                  "Δ seqlet F1 @0.05 | Δ seqlet F1 @0.2 | Δ stability |", "|" + "---|" * (len(columns) + 5)]
        for _, row in contrasts.iterrows():
            lines.append(f"| {row['world']} | {row['size']:,} | {row['contrast']} | {row['seeds']} | "
                         + " | ".join(_pm(row, "d_" + c, True) for c in columns) + f" | {row['d_stability']:+.3f} |")
    return "\n".join(lines) + "\n"


def table(args: argparse.Namespace) -> None:
    base = args.out
    world_ids = args.world_list if args.world_list is not None else list(range(args.worlds))
    (base / "maps").mkdir(parents=True, exist_ok=True)
    tsv = base / "experiment.tsv"
    done = pd.read_csv(tsv, sep="\t") if args.reuse and tsv.exists() else pd.DataFrame()
    if len(done):  # the table covers the grid asked for: rows of other worlds or sizes stay in the file only
        done = done[done["world"].isin(world_ids) & done["size"].isin(args.sizes)]
    if not args.reuse and tsv.exists():
        tsv.unlink()
    worlds, names = {}, [m.name for m in read_meme(MOTIF_FILE)]
    for k in world_ids:
        folder = base / f"world{k}"
        folder.mkdir(exist_ok=True)
        weights = world_weights(k, names)
        world = simulated_world(folder, {"train": max(args.sizes), "valid": args.valid, "test": args.test}, k, False,
                                weights, args.width, args.plant_from, args.label_model)
        for size in args.sizes:
            subset_labels(world["rows"], size).to_csv(folder / f"labels_{size}.tsv", sep="\t", index=False)
        null_x = seqsal.dinucleotide_shuffle(world["test"]["x"], 1, seed=1000 + k)[:, 0]
        worlds[k] = (folder, world["test"], null_x)
        print(json.dumps({"world": k, "weights": weights}), flush=True)
    rows = done.to_dict("records")
    for seed, k, size, variant in itertools.product(range(args.seeds), world_ids, args.sizes,
                                                    args.variants.split(",")):
        key = {"world": k, "size": size, "variant": variant, "seed": seed}
        if any(all(r[c] == v for c, v in key.items()) for r in rows):
            continue
        folder, test, null_x = worlds[k]
        row = run_row(args, key, test, null_x, folder)
        rows.append(row)
        pd.DataFrame([row]).to_csv(tsv, sep="\t", index=False, mode="a", header=not tsv.exists())
        print(json.dumps(row), flush=True)
    frame = pd.DataFrame(rows)
    summary = summarise(frame, base / "maps", {k: test["truth"] for k, (_, test, _) in worlds.items()})
    contrasts = paired_contrasts(frame, summary)
    summary.to_csv(base / "summary.tsv", sep="\t", index=False)
    contrasts.to_csv(base / "contrasts.tsv", sep="\t", index=False)
    text = markdown(summary, contrasts)
    (base / "experiment.md").write_text(text)
    print(text)


def shortcut(args: argparse.Namespace) -> None:
    world = simulated_world(args.out, {"train": args.train, "valid": args.train // 4, "test": args.train // 4}, 1, True)
    train, test = world["train"], world["test"]
    with_adapter = train["x"][train["carriers"]]
    without = with_adapter.copy()
    for i, original in enumerate(train["originals"]):
        without[i, :, OFFSET:OFFSET + 20] = one_hot_encode(original)
    clean = test["x"][test["y"] > 0.5]
    dirty = clean.copy()
    dirty[:, :, OFFSET:OFFSET + 20] = one_hot_encode(ADAPTER)
    results = []
    masked = [(f"mask_prior_w{w:g}", {"mask_prior": str(args.out / "adapter.bed"), "mask_weight": w})
              for w in args.mask_weights]
    variants = ([] if args.no_plain else [("plain", {})]) + masked
    for seed, (name, extra) in itertools.product(args.seed_list or range(args.seeds), variants):
        summary, model = train_one(args, f"shortcut_{name}", seed, extra)
        with torch.no_grad():
            predict = lambda a: model(torch.as_tensor(a))[:, 0].numpy()  # noqa: E731
            drop = float(np.mean(predict(with_adapter) - predict(without)))
            rise = float(np.mean(predict(dirty) - predict(clean)))
        results.append({"model": name, "seed": seed, "carriers": len(train["carriers"]),
                        "drop_when_removed_train": drop, "rise_when_planted_test": rise,
                        "clean_test_r": summary["metrics"]["test"]["pearson"]["activity"]})
        print(json.dumps(results[-1]), flush=True)
    frame = pd.DataFrame(results)
    print(frame.groupby("model", sort=False).mean(numeric_only=True).to_string(float_format=lambda v: f"{v:.3f}"))
    frame.to_csv(args.out / "shortcut_results.tsv", sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shortcut", action="store_true")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: table 3, shortcut 2)")
    parser.add_argument("--worlds", type=int, default=2, help="table: independent simulated worlds")
    parser.add_argument("--world-list", type=int, nargs="+", default=None, help="table: these worlds, not --worlds")
    parser.add_argument("--sizes", type=int, nargs="+", default=[6000, 600], help="table: training windows per run")
    parser.add_argument("--valid", type=int, default=1000, help="table: validation windows")
    parser.add_argument("--test", type=int, default=1000, help="table: test windows")
    parser.add_argument("--width", type=int, default=None, help="window length in bases (table 250, shortcut 500)")
    parser.add_argument("--plant-from", type=int, default=20, help="table: first base where sites are planted")
    parser.add_argument("--reuse", action="store_true", help="table: keep the runs already in experiment.tsv")
    parser.add_argument("--label-model", choices=LABEL_MODELS, default="additive",
                        help="table: additive (summed site weights, regression) or or (any activator site, binary; "
                             "2-4 sites per positive window)")
    parser.add_argument("--train", type=int, default=4000, help="shortcut: training windows (valid, test: a quarter)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most epochs (table: at the largest size, default 24; shortcut: default 5)")
    parser.add_argument("--epochs-small", type=int, default=60, help="table: most epochs at the smaller sizes")
    parser.add_argument("--patience", type=int, default=None,
                        help="early stopping: epochs without a better validation r (table 4, shortcut 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"table: comma-separated, of {', '.join(ALL_VARIANTS)} [the first five]")
    parser.add_argument("--mask-weights", type=float, nargs="+", default=[10.0])
    parser.add_argument("--seed-list", type=int, nargs="+", default=None, help="shortcut: these seeds instead of --seeds")
    parser.add_argument("--no-plain", action="store_true", help="shortcut: skip the plain model (deterministic per seed)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/train_experiment"))
    args = parser.parse_args()
    args.seeds = args.seeds if args.seeds is not None else (2 if args.shortcut else 3)
    args.epochs = args.epochs if args.epochs is not None else (5 if args.shortcut else 24)
    args.patience = args.patience if args.patience is not None else (3 if args.shortcut else 4)
    args.width = args.width if args.width is not None else (WIDTH if args.shortcut else 250)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    shortcut(args) if args.shortcut else table(args)


if __name__ == "__main__":
    main()

"""The ``seqsal`` command line: thin click commands over the notebook API.

Errors in the user's input print one line, ``seqsal: error: ...``, and exit
with code 2. Logs and progress go to stderr; data goes to files.
"""
from __future__ import annotations

import logging
import sys

import click

from . import __version__
from .cli_common import SEED, Finite, OneLineErrors, handle_errors, method_options, setup_logging
from .cli_train import train
from .text import plural


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqsal")
def main() -> None:
    """Explain DNA sequence models: per-base attributions, candidate regulatory elements, motif logos.

    Start with `seqsal attribute genome.fa regions.bed --model model.safetensors -o out/`.
    """


main.add_command(train)


@main.command()
@click.argument("genome", type=click.Path(dir_okay=False))
@click.argument("regions", type=click.Path(dir_okay=False))
@click.option("--model", "-m", "model_path", required=True, type=click.Path(dir_okay=False),
              help="Model file: seqsal .safetensors, TorchScript, torch.export (.pt2), or a state_dict "
                   "(with --architecture and --model-config).")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--method", default="grad_x_input", show_default=True,
              help="Attribution method: saliency, grad_x_input, smoothgrad, ig, deepshap, ism, gradcam.")
@click.option("--target", default=None,
              help="What to explain: a task index or name ('2', 'enhancer'), or 'output=1,task=0,reduce=bpnet' "
                   "for tuple/profile outputs, 'output=human,task=2' for a dict of outputs, 'task=3,axis=-1' for "
                   "the task axis of an (N, bins, tracks) output ('task=3,axis=-1,positions=14:18': only bins "
                   "14-17, e.g. those of the region centred in a longer window), 'axis=none' for a one-task "
                   "profile (N, positions); "
                   "transform=logit (a sigmoid inside), log_odds (a "
                   "softmax over classes) or log_odds_logp (a log-softmax), chosen from the model's graph when not "
                   "given, none to explain a probability as it is. Default: task 0 (its logit or log-odds when the "
                   "model returns a probability).")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Re-centre every region on its narrowPeak summit (else midpoint) and resize it to this width.")
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="Model input length, when the model file does not declare one. Default: each region whole.")
@click.option("--stride", type=click.IntRange(min=1), default=None, help="Step between windows tiling long regions [window/2].")
@click.option("--stitch", type=click.Choice(["mean", "centre"]), default="mean", show_default=True,
              help="Combine overlapping windows by their mean, or take each base from its most central window.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Largest number of windows per forward/backward pass (lowered to fit --max-memory).")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Memory a batch may use, e.g. 4G or 512M: the batch size and the inner chunks of ig, deepshap, "
                   "smoothgrad and ism are cut to fit it, from the measured cost of one window. "
                   "[half the RAM; 80% of the GPU]")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Regions per checkpoint: --resume after an interruption recomputes at most one chunk (and of a long "
                   "region in progress, at most its last minute).")
@click.option("--device", default="auto", show_default=True, help="auto (cuda > mps > cpu), cuda, cuda:1, mps, cpu.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Precision of the model's passes: fp32 (true float32: TF32 off on a GPU), or autocast to bf16/fp16.")
@click.option("--rc/--no-rc", default=False, show_default=True,
              help="Average with the reverse complement's attribution (for unstranded models).")
@click.option("--correct/--no-correct", default=True, show_default=True,
              help="Gradient correction: subtract each position's mean over A/C/G/T.")
@click.option("--n-value", type=click.Choice(["0", "0.25"]), default="0", show_default=True,
              help="Encoding of N and other IUPAC codes.")
@click.option("--unknown-bases", type=click.Choice(["error", "n"]), default="error", show_default=True,
              help="A FASTA character that is not an IUPAC code (e.g. 'Z') within a model window: stop with its "
                   "line, or read it as N (one warning line counts them).")
@click.option("--architecture", default=None,
              help="For a state_dict file: a built-in architecture (basset, bpnet), or your own class as "
                   "path/to/arch.py:ClassName (the file is imported: its code runs).")
@click.option("--model-config", default=None, type=click.Path(dir_okay=False),
              help="JSON/YAML config of --architecture (the class's keyword arguments).")
@click.option("--layout", type=click.Choice(["ncl", "nlc"]), default="ncl", show_default=True,
              help="Input the model was written for: one-hot (N, 4, L), or channels last (N, L, 4).")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="When the model returns NaN/Inf for a region: stop, or write zeros and flag it.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--allow-incomplete", is_flag=True,
              help="ig, deepshap: write the maps even when a window's attributions miss f(x) - mean f(baselines) "
                   "beyond the method's tolerance (recorded in regions.tsv and run.json); by default that stops "
                   "the run.")
@click.option("--shard", default=None, metavar="I/N",
              help="Attribute only the I-th (from 1) of N contiguous blocks of the regions; join the shard "
                   "folders with `seqsal merge`, then `seqsal call-peaks` (a shard draws its null sample only).")
@click.option("--logos", "n_logos", type=click.IntRange(min=0), default=0, show_default=True,
              help="Draw logos of the top N seqlets/elements (or regions) into OUT/logos/ at the end.")
@click.option("--peaks/--no-peaks", default=True, show_default=True,
              help="Call seqlets and elements (seqlets.bed, elements.bed, .tsv) at the end of the run.")
@click.option("--fdr", type=Finite(), default=0.2, show_default=True,
              help="Target false discovery rate of the seqlets (each sign its own BH family; tfmodisco-lite's "
                   "seqlet level).")
@click.option("--element-fdr", type=Finite(), default=0.05, show_default=True,
              help="Target false discovery rate of the elements (candidates from the windows at p <= this level).")
@click.option("--signs", type=click.Choice(["auto", "+-", "+", "-"]), default="auto", show_default=True,
              help="The signs whose seqlets and elements are called (both are tested). auto: both, then the model "
                   "is asked about 200 seqlets (seqsal check-seqlets) and a sign it contradicts is not called.")
@click.option("--null", "null", type=click.Choice(["shuffle", "laplace"]), default="shuffle", show_default=True,
              help="Null of the peak caller: attributions of dinucleotide-shuffled copies of a sample of the "
                   "regions, or a Laplace fit to the bulk of the observed track.")
@click.option("--null-fraction", type=Finite(), default=0.1, show_default=True,
              help="Fraction of the bases shuffled for --null shuffle (regions, long ones in 10-kb pieces with a "
                   "model window; that much extra model work on a run of more than --min-null-bases / fraction "
                   "bases; a smaller run shuffles more, up to all its regions --max-null-copies times: --no-peaks "
                   "skips the null).")
@click.option("--min-null-bases", type=int, default=200_000, show_default=True,
              help="Fewest bases of shuffled sequence the shuffle null attributes: a small run takes more of its "
                   "regions, and several shuffles of each when it is shorter.")
@click.option("--max-null-copies", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="Most shuffles of one region for the shuffle null of a run shorter than --min-null-bases (each "
                   "as much model work as the region): raise it when a small run's smallest p-values sit at the "
                   "null's resolution.")
@click.option("--resume", is_flag=True, help="Finish an interrupted run in this folder.")
@click.option("--force", is_flag=True, help="Overwrite a run already in this folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@method_options
@handle_errors
def attribute(genome, regions, model_path, out_dir, method, target, width, window, stride, stitch, batch_size,
              chunk_size, device, precision, rc, correct, n_value, architecture, model_config, on_error, seed, resume,
              force, quiet, shard=None, method_params=None, n_logos=0, unknown_bases="error", layout="ncl",
              allow_incomplete=False, max_memory=None,
              peaks=True, fdr=0.2, element_fdr=0.05, signs="auto", null="shuffle", null_fraction=0.1,
              min_null_bases=200_000,
              max_null_copies=8):
    """Attribute every base of every region in REGIONS (BED/narrowPeak) of GENOME (FASTA).

    Writes attributions.npz, attributions.bw, regions.tsv and run.json into --out.
    """
    setup_logging(quiet)
    from .peaks import PeakOptions
    from .pipeline import AttributeOptions, run_attribute
    from .seqlet_check import AUTO_CHECK
    from .shards import parse_shard

    options = AttributeOptions(
        method=method, target=target, width=width, window=window, stride=stride, batch_size=batch_size,
        chunk_size=chunk_size, device=None if device == "auto" else device, precision=precision, rc=rc, correct=correct,
        stitch=stitch, n_value=float(n_value), unknown_bases=unknown_bases, seed=seed, on_error=on_error,
        layout=layout, method_params=method_params or {}, allow_incomplete=allow_incomplete, max_memory=max_memory,
    )
    run_attribute(
        genome, regions, model_path, out_dir, options, architecture=architecture, model_config=model_config,
        resume=resume, force=force, progress=not quiet, command=["seqsal", *sys.argv[1:]],
        shard=parse_shard(shard) if shard is not None else None,
        check_seqlets=AUTO_CHECK if signs == "auto" and peaks else 0,
        peaks=PeakOptions(fdr=fdr, element_fdr=element_fdr, signs="+-" if signs == "auto" else signs, null=null,
                          null_fraction=null_fraction,
                          min_null_bases=min_null_bases,
                          max_null_copies=max_null_copies, seed=seed).check() if peaks else False,
    )
    if n_logos:  # run_attribute logged what this invocation did
        from .report import write_logos

        write_logos(out_dir, top=n_logos, progress=not quiet)


@main.command()
@click.argument("shard_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--force", is_flag=True, help="Overwrite a run already in this folder.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def merge(shard_dirs, out_dir, force, quiet):
    """Merge the folders of `seqsal attribute --shard i/N` runs (all N of them) into one run folder.

    Writes the files of a single run over all regions: attributions.npz, regions.tsv, attributions.bw, run.json.
    """
    setup_logging(quiet)
    from .shards import merge_runs

    record = merge_runs(list(shard_dirs), out_dir, force=force, command=["seqsal", *sys.argv[1:]])
    logging.getLogger("seqsal").info(
        "%s, %s merged in %.1f s -> %s", plural(len(record["shards"]), "shard"), plural(record["n_regions"], "region"),
        record["timing_seconds"]["merge"], out_dir,
    )


@main.command("export-modisco")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "-o", "dest", required=True, type=click.Path(file_okay=False),
              help="Folder for ohe.npy, shap.npy and modisco_peaks.bed.")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Row width in bases, each region centred in it (cropped or zero-padded). [the longest region]")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def export_modisco(out_dir, dest, width, quiet):
    """Write the arrays of the run in OUT_DIR as the dense (N, 4, L) files tfmodisco-lite reads.

    attributions.npz stores regions end to end (no padding); this writes DEST/ohe.npy (one-hot) and DEST/shap.npy
    (hypothetical attributions), float32 (N, 4, width), for `modisco motifs -s DEST/ohe.npy -a DEST/shap.npy -n 2000`,
    and DEST/modisco_peaks.bed, the peaks file (-p) with which `modisco seqlet-bed` places its seqlets at their
    genome coordinates (`seqlet-fasta` too when --width equals modisco's -w: it reads bases from the uncropped rows).
    """
    setup_logging(quiet)
    from .motifs import export_modisco_arrays

    done = export_modisco_arrays(out_dir, dest, width=width)
    logging.getLogger("seqsal").info("%s x %d bp -> %s", plural(done["n_regions"], "region"), done["width"],
                                     ", ".join(done["files"]))


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True,
              help="Draw the N best seqlets and elements (by rank), or the N top regions without calls.")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png", show_default=True)
@click.option("--hypothetical", is_flag=True, help="Add the hypothetical-contribution logo under each seqlet logo.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Drawing processes.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@handle_errors
def logos(out_dir, top, fmt, hypothetical, workers, quiet):
    """Draw logos of the run in OUT_DIR into OUT_DIR/logos/.

    Contribution logos of the top seqlets and elements, region views (logo, per-base track and called spans)
    of the top elements, and CWM/PWM logos of every motif of `seqsal motifs`.
    """
    setup_logging(quiet)
    from .report import write_logos

    write_logos(out_dir, top=top, fmt=fmt, workers=workers, hypothetical=hypothetical, progress=not quiet)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--seqlets", "seqlets_path", type=click.Path(dir_okay=False), default=None,
              help="Seqlet table to cluster (columns region_index, offset_start, offset_end, sign), e.g. "
                   "OUT_DIR/seqlets.tsv. Default: seqlets re-called from the tracks at --seqlet-fdr.")
@click.option("--seqlet-fdr", type=Finite(min=0, max=1, min_open=True), default=0.9, show_default=True,
              help="FDR of the seqlets re-called for discovery, against the run's shuffled null (null.npz; else "
                   "the Laplace null): lenient, so that weak motifs have instances to cluster, but sized by "
                   "the evidence. Motifs no more frequent than in the null's shuffled sequence are dropped "
                   "(motifs.tsv: n_support_seqlets, n_null_seqlets, enrichment, support_pvalue).")
@click.option("--instance-fdr", type=Finite(min=0, max=1, min_open=True), default=0.05,
              show_default=True,
              help="FDR of the motif instance calls (motif_calls.tsv, motif_calls.bed), one FDR over all kept "
                   "motifs' calls: the run's test windows that match a kept motif, ranked by window p-value x "
                   "match p-value, called where they beat the null's matching windows (scaled by bases). Needs "
                   "the shuffled null (null.npz).")
@click.option("--database", default=None,
              help="Known motifs to match against: a MEME file, 'jaspar' (a whole JASPAR release, offline, through "
                   "pyjaspar: pip install 'seqsal[jaspar]'; converted once into the user cache) or 'none'. "
                   "[the bundled JASPAR CORE subset, package data: 17 motifs]")
@click.option("--jaspar-release", default=None, help="With --database jaspar: JASPAR2024, ... [pyjaspar's newest]")
@click.option("--jaspar-collection", default="CORE", show_default=True, help="With --database jaspar: the collection.")
@click.option("--jaspar-tax-group", default="vertebrates", show_default=True,
              help="With --database jaspar: vertebrates, plants, insects, nematodes, fungi, urochordates, ... or all.")
@click.option("--jaspar-all-versions", is_flag=True,
              help="With --database jaspar: every version of each matrix (MA0139.1 and .2), not only the latest.")
@click.option("--min-seqlets", type=click.IntRange(min=2), default=20, show_default=True,
              help="Fewest seqlets a motif needs.")
@click.option("--max-seqlets", type=click.IntRange(min=10), default=20_000, show_default=True,
              help="Most seqlets of each sign clustered (the most significant when there are more).")
@click.option("--max-seed-seqlets", type=click.IntRange(min=10), default=3000, show_default=True,
              help="Seqlets compared all-against-all to find seeds (a random sample of them when there are more).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of that sample.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def motifs(out_dir, seqlets_path, seqlet_fdr, instance_fdr, database, jaspar_release, jaspar_collection,
           jaspar_tax_group, jaspar_all_versions, min_seqlets, max_seed_seqlets, max_seqlets, seed, quiet):
    """Cluster the seqlets of the run in OUT_DIR into motifs and match them to known motifs.

    Writes motifs.meme, motifs.tsv, motifs.npz (CWM, hypothetical CWM, PWM), motifs.h5 (tfmodisco-lite's layout,
    for `modisco report` and other readers; modisco_peaks.bed is the -p of its `seqlet-bed`), motif_instances.tsv
    (with each instance's seqlet p and q) and, with a database, motif_matches.tsv (TOMTOM-style p-, E- and
    q-values). A motif is kept only when the windows of the run that match it outnumber those of the run's shuffled
    null (scaled by bases) by a one-sided binomial test. Its instances are then called at --instance-fdr:
    motif_calls.tsv and motif_calls.bed (PWM match, strand, q).
    """
    setup_logging(quiet)
    from .errors import InputError
    from .motifs import DiscoveryOptions, run_motifs
    from .motifs.jaspar import JasparQuery

    given = [name for name, value, default in (("--jaspar-release", jaspar_release, None),
                                                ("--jaspar-collection", jaspar_collection, "CORE"),
                                                ("--jaspar-tax-group", jaspar_tax_group, "vertebrates"),
                                                ("--jaspar-all-versions", jaspar_all_versions, False))
             if value != default]
    if given and str(database).lower() != "jaspar":
        raise InputError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to --database jaspar only, "
                         f"and --database is {database or 'the bundled subset'}; add --database jaspar, or leave "
                         f"{'it' if len(given) == 1 else 'them'} out")
    options = DiscoveryOptions(min_seqlets=min_seqlets, max_seed_seqlets=max_seed_seqlets, max_seqlets=max_seqlets,
                               seed=seed)
    run_motifs(out_dir, seqlets_path=seqlets_path, database=database, options=options, progress=not quiet,
               seqlet_fdr=seqlet_fdr, instance_fdr=instance_fdr,
               jaspar=JasparQuery(jaspar_release, jaspar_collection, jaspar_tax_group, jaspar_all_versions))


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Elements (or regions) shown with their logos.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Drawing processes.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def report(out_dir, top, workers, quiet):
    """Write OUT_DIR/report.html: parameters, predictions, top elements with logos, motifs with matches.

    One static file (images embedded, nothing loaded from the network); links point at the run's files.
    """
    setup_logging(quiet)
    from .report import write_report

    path = write_report(out_dir, top=top, workers=workers)
    logging.getLogger("seqsal").info("report -> %s", path)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--genome", type=click.Path(dir_okay=False), default=None,
              help="The run's FASTA at its new path (checked: a sample of regions must hold the bases the run read).")
@click.option("--regions", type=click.Path(dir_okay=False), default=None,
              help="The run's regions file at its new path (checked: it must give the run's regions, in order).")
@click.option("--model", type=click.Path(dir_okay=False), default=None,
              help="The run's model file at its new path (checked by the SHA-256 run.json records).")
@click.option("--architecture", type=click.Path(dir_okay=False), default=None,
              help="A state_dict model's architecture .py file at its new path (checked by its SHA-256).")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def relocate(out_dir, genome, regions, model, architecture, quiet):
    """Point the run in OUT_DIR at its inputs after they moved (a folder copied to another machine, a genome moved).

    Each new file is checked to hold what the run read before run.json is rewritten; attributions, calls and every
    derived file stay as they are. The change is recorded in run.json's `relocated` list.
    """
    setup_logging(quiet)
    from .relocate import relocate_run

    changes = relocate_run(out_dir, genome=genome, regions=regions, model=model, architecture=architecture)
    for key, change in changes.items():
        logging.getLogger("seqsal").info("%s: %s -> %s", key, change["from"], change["to"])


@main.command("call-peaks")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--fdr", type=Finite(), default=0.2, show_default=True,
              help="Target false discovery rate of the seqlets (each sign its own BH family; tfmodisco-lite's "
                   "seqlet level).")
@click.option("--element-fdr", type=Finite(), default=0.05, show_default=True,
              help="Target false discovery rate of the elements (candidates from the windows at p <= this level).")
@click.option("--signs", type=click.Choice(["auto", "+-", "+", "-"]), default="auto", show_default=True,
              help="The signs whose seqlets and elements are called (both are tested). auto: both, then the model "
                   "is asked about 200 seqlets (seqsal check-seqlets) and a sign it contradicts is not called.")
@click.option("--null", "null", type=click.Choice(["shuffle", "laplace"]), default=None,
              help="shuffle (needs null.npz from the run) or laplace. Default: shuffle when null.npz is there.")
@click.option("--test-widths", default="6,10,16,24", show_default=True,
              help="Widths of the windows the seqlet test sums (bp, comma-separated; each against its own null, one "
                   "test per site at its best width); not the model's input length (attribute --window).")
@click.option("--max-length", type=int, default=30, show_default=True, help="Longest seqlet (bp).")
@click.option("--element-gap", type=int, default=100, show_default=True,
              help="Seqlets closer than this join one element (bp).")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def call_peaks(out_dir, fdr, element_fdr, signs, null, test_widths, max_length, element_gap, quiet):
    """Call seqlets and elements again on the run in OUT_DIR, without recomputing attributions.

    Rewrites seqlets.bed, elements.bed (narrowPeak), seqlets.tsv, elements.tsv and the peaks entry of run.json.
    """
    setup_logging(quiet)
    from .peaks import call_peaks_from_run, describe_calls

    calls = call_peaks_from_run(out_dir, fdr=fdr, element_fdr=element_fdr, signs="+-" if signs == "auto" else signs,
                                null=null, test_widths=test_widths, max_length=max_length, element_gap=element_gap,
                                note={"signs_asked": "auto"} if signs == "auto" else None)
    info = calls.info
    if signs == "auto":
        from .provenance import read_json_record
        from .seqlet_check import AUTO_CHECK, withhold_unconfirmed

        if withhold_unconfirmed(out_dir, AUTO_CHECK):  # the calls of the sign the model confirms
            info = read_json_record(f"{out_dir}/run.json")["peaks"]
    logging.getLogger("seqsal").info("%s -> %s", describe_calls(info), out_dir)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--methods", default=None, help="Comma-separated attribution methods to evaluate. [default: "
              "saliency,grad_x_input,ig,deepshap,ism, skipping those the model cannot take]")
@click.option("--truth", type=click.Path(dir_okay=False, exists=True), default=None,
              help="BED of known functional sites: per-base AUROC/AUPRC of each map.")
@click.option("--max-regions", type=click.IntRange(min=1), default=100, show_default=True,
              help="Evaluate a random sample of this many regions (0 for all is not allowed; give a large number).")
@click.option("--background", type=click.Choice(["shuffle", "uniform"]), default="shuffle", show_default=True,
              help="What deleted bases become (and what inserted bases are restored into).")
@click.option("--sanity/--no-sanity", default=True, show_default=True,
              help="Cascading layer re-randomisation check (the costliest part).")
@click.option("--seed", type=SEED, default=None,
              help="Random seed of the region sample, backgrounds, references and noise. [the run's --seed]")
@method_options
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps, auto. [the run's, where this machine has it]")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@handle_errors
def evaluate(out_dir, methods, truth, max_regions, background, sanity, seed, device, quiet, method_params=None):
    """Faithfulness of attribution methods on the regions of the run in OUT_DIR.

    Deletion/insertion curves and their AUCs, ground-truth AUROC/AUPRC (--truth), sanity check, stability and the
    effective receptive field; writes evaluation.tsv, evaluation_curves.tsv, evaluation_sanity.tsv,
    evaluation_erf.tsv and evaluation/*.png into OUT_DIR. Every method scores the windows the run attributed (strand,
    tiling, --rc, gradient correction as the run had them); the run's own method runs with the run's parameters.
    Method options (--references, --steps, ...) given here apply to every method that takes them.
    """
    setup_logging(quiet)
    from .evaluate import evaluate_run
    from .methods import METHOD_OPTIONS

    from .evaluate_inputs import DEFAULT_METHODS

    names = list(DEFAULT_METHODS) if methods is None else [name.strip() for name in methods.split(",") if name.strip()]
    given = method_params or {}
    per_method = {name: {k: v for k, v in given.items() if k in METHOD_OPTIONS.get(name, ()) and v is not None}
                  for name in names}
    result = evaluate_run(out_dir, names, truth=truth, max_regions=max_regions, background=background, sanity=sanity,
                          seed=seed, method_params=per_method, progress=not quiet, named=methods is not None,
                          device=device)
    log = logging.getLogger("seqsal")
    for row in result.itertuples(index=False):
        extra = f", AUROC {row.auroc:.3f}, AUPRC {row.auprc:.3f}" if "auroc" in result else ""
        log.info("%-12s deletion AUC %.3f, insertion AUC %.3f%s", row.method, row.deletion_auc, row.insertion_auc,
                 extra)
    for name in result.attrs.get("skipped_methods", {}):
        log.info("%-12s skipped: the model cannot take it (the warning above says why)", name)
    log.info("-> %s/evaluation.tsv", out_dir)


@main.command("check-seqlets")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--max-seqlets", type=click.IntRange(min=1), default=200, show_default=True,
              help="Check this many seqlets, the most significant first, each sign at least half of them "
                   "(where it has that many): each sign's verdict rests on its own.")
@click.option("--draws", type=click.IntRange(min=1), default=8, show_default=True,
              help="Random replacements of each stretch (the change is their mean).")
@click.option("--alpha", type=Finite(0, 1, min_open=True), default=0.05, show_default=True,
              help="A seqlet is confirmed when its replacement p-value against the controls is at most this.")
@click.option("--seed", type=SEED, default=None, help="Random seed of the replacements. [the run's --seed]")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps, auto. [the run's, where this machine has it]")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def check_seqlets(out_dir, max_seqlets, draws, alpha, seed, device, quiet):
    """Ask the model whether it confirms each called seqlet of the run in OUT_DIR.

    Each seqlet's bases are replaced by random bases in the model window the run read; the seqlet is confirmed
    when the prediction moves the way its sign says, further than the same replacement of stretches no call
    covers (p <= --alpha). No attribution method is involved. Writes seqlet_check.tsv (name, sign, score, qvalue,
    change, effect, pvalue, confirmed) into OUT_DIR.
    """
    setup_logging(quiet)
    from .seqlet_check import check_seqlets_run

    check_seqlets_run(out_dir, max_seqlets=max_seqlets, draws=draws, alpha=alpha, seed=seed, device=device)
    logging.getLogger("seqsal").info("-> %s/seqlet_check.tsv", out_dir)



@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--strict", is_flag=True,
              help="Exit with code 3 when any check says 'shortcut likely' (for workflows to gate on).")
@click.option("--model/--no-model", "use_model", default=True, show_default=True,
              help="Run the check that needs the model (predictions of dinucleotide shuffles of a sample).")
@click.option("--sample", type=click.IntRange(min=5), default=50, show_default=True,
              help="Regions whose windows the model check shuffles.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed of the nulls and the sample.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def audit(out_dir, strict, use_model, sample, seed, quiet):
    """Check the run in OUT_DIR for shortcuts and artefacts the model relies on.

    Writes OUT_DIR/audit.tsv (check, statistic, reference, value, pvalue, verdict, evidence) and OUT_DIR/audit/*.png:
    positional bias, unmatched high-contribution motifs, GC/CpG and soft-mask reliance, response to composition-
    preserving shuffles, window edges, padding and N. Verdicts: ok, look, shortcut likely, n/a.
    """
    setup_logging(quiet)
    from .audit import STRICT_EXIT_CODE, AuditOptions, audit_run

    table = audit_run(out_dir, AuditOptions(model=use_model, model_regions=sample, seed=seed))
    for row in table.itertuples(index=False):
        click.echo(f"{row.verdict:16s} {row.check:24s} {row.evidence}")
    if strict and (table["verdict"] == "shortcut likely").any():
        sys.exit(STRICT_EXIT_CODE)


@main.command()
@click.argument("name", type=click.Choice(["demo", "motifs"]))
@click.argument("file", required=False, type=click.Choice(["genome", "regions", "model", "planted", "elements",
                                                           "model_card"]))
@handle_errors
def datasets(name, file):
    """Print the paths of data shipped inside seqsal: the demo's files or the bundled JASPAR subset (MEME).

    `seqsal datasets demo` prints one `key<TAB>path` line per file (genome, regions, model, planted, elements,
    model_card); `seqsal datasets demo genome` prints that path alone, e.g.
    `seqsal attribute "$(seqsal datasets demo genome)" "$(seqsal datasets demo regions)" --model
    "$(seqsal datasets demo model)" -o demo_out`.
    """
    from .datasets import bundled_motifs, demo

    if name == "motifs":
        click.echo(str(bundled_motifs()))
        return
    paths = demo().as_dict()
    if file:
        click.echo(str(paths[file]))
        return
    for key, path in paths.items():
        click.echo(f"{key}\t{path}")


if __name__ == "__main__":
    main()

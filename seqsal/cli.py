"""The ``seqsal`` command line: thin click commands over the notebook API.

Errors in the user's input print one line, ``seqsal: error: ...``, and exit
with code 2. Logs and progress go to stderr; data goes to files.
"""
from __future__ import annotations

import functools
import logging
import sys

import click

from . import __version__
from .text import plural


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="seqsal: %(message)s", stream=sys.stderr, force=True
    )


def handle_errors(function):
    """Turn :class:`seqsal.errors.InputError` (and interrupts) into one line and an exit code."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from .errors import InputError
        from .runlock import command_lock

        try:
            with command_lock(function.__name__, kwargs):  # one writer per run folder (seqsal.runlock)
                return function(*args, **kwargs)
        except InputError as error:
            click.echo(f"seqsal: error: {error.cli_message()}", err=True)
            sys.exit(2)
        except PermissionError as error:  # e.g. a run folder that is not writable: one line, not a traceback
            where = error.filename or "a file"
            click.echo(f"seqsal: error: {where}: permission denied; make its folder writable or give another one",
                       err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            context = click.get_current_context(silent=True)
            resumable = context is not None and any(p.name == "resume" for p in context.command.params)
            click.echo("seqsal: interrupted" + ("; rerun with --resume to continue" if resumable else
                                                "; rerun the command (files are written whole or not at all)"),
                       err=True)
            sys.exit(130)

    return wrapper


class OneLineErrors(click.Group):
    """A click group whose usage errors (bad option values, missing arguments) print one line too.

    ``seqsal: error: <what is wrong> (see 'seqsal <command> --help')``, exit code 2, like
    :func:`handle_errors` does for seqsal's own checks.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "seqsal"
            click.echo(f"seqsal: error: {error.format_message()} (see '{command} --help')", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"seqsal: error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("seqsal: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="seqsal")
def main() -> None:
    """Explain DNA sequence models: per-base attributions, candidate regulatory elements, motif logos.

    Start with `seqsal attribute genome.fa regions.bed --model model.safetensors -o out/`.
    """


def method_options(function):
    """Add the options of the attribution methods; they reach ``function`` as one ``method_params`` dict."""
    options = [
        click.option("--references", type=click.IntRange(min=1), default=None,
                     help="deepshap, ig: dinucleotide-shuffled references per sequence [deepshap 20, ig 10]."),
        click.option("--baseline", type=click.Choice(["shuffle", "zero", "uniform"]), default=None,
                     help="deepshap, ig: reference/baseline [deepshap shuffle, ig zero]."),
        click.option("--steps", type=click.IntRange(min=1), default=None,
                     help="ig: Gauss-Legendre points on the path [32]."),
        click.option("--samples", type=click.IntRange(min=1), default=None, help="smoothgrad: noisy copies [20]."),
        click.option("--noise", type=click.FloatRange(min=0), default=None,
                     help="smoothgrad: noise standard deviation, in one-hot units [0.1]."),
        click.option("--layer", default=None,
                     help="gradcam: module name of the layer [the rectified output of the last convolution block]."),
        click.option("--fast/--naive", "fast", default=None,
                     help="ism: recompute only each substitution's receptive field [fast when supported]."),
    ]

    @functools.wraps(function)
    @handle_errors
    def wrapper(*args, references, baseline, steps, samples, noise, layer, fast, **kwargs):
        from .methods import method_params

        given = dict(references=references, baseline=baseline, steps=steps, samples=samples, noise=noise, layer=layer,
                     fast=fast)
        if "method" in kwargs:  # one method: check that it takes these options
            kwargs["method_params"] = method_params(kwargs["method"], kwargs.get("seed", 0), **given)
        else:  # several methods: each takes the options it knows
            kwargs["method_params"] = {key: value for key, value in given.items() if value is not None}
            kwargs["method_params"]["seed"] = kwargs.get("seed", 0)
        return function(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


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
                   "the task axis of an (N, bins, tracks) output; transform=logit (a sigmoid inside), log_odds (a "
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
              help="Regions per checkpoint: --resume after an interruption recomputes at most one chunk.")
@click.option("--device", default="auto", show_default=True, help="auto (cuda > mps > cpu), cuda, cuda:1, mps, cpu.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Autocast precision of the model's forward pass.")
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
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same bytes).")
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
@click.option("--fdr", type=float, default=0.05, show_default=True, help="Target false discovery rate of the calls.")
@click.option("--null", "null", type=click.Choice(["shuffle", "laplace"]), default="shuffle", show_default=True,
              help="Null of the peak caller: attributions of dinucleotide-shuffled copies of a sample of the "
                   "regions, or a Laplace fit to the bulk of the observed track.")
@click.option("--null-fraction", type=float, default=0.1, show_default=True,
              help="Fraction of regions shuffled for --null shuffle (that much extra model work).")
@click.option("--min-null-bases", type=int, default=200_000, show_default=True,
              help="Fewest bases of shuffled sequence the shuffle null attributes: a small run takes more of its "
                   "regions, and several shuffles of each when it is shorter.")
@click.option("--resume", is_flag=True, help="Finish an interrupted run in this folder.")
@click.option("--force", is_flag=True, help="Overwrite a run already in this folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@method_options
@handle_errors
def attribute(genome, regions, model_path, out_dir, method, target, width, window, stride, stitch, batch_size,
              chunk_size, device, precision, rc, correct, n_value, architecture, model_config, on_error, seed, resume,
              force, quiet, shard=None, method_params=None, n_logos=0, unknown_bases="error", layout="ncl",
              allow_incomplete=False, max_memory=None,
              peaks=True, fdr=0.05, null="shuffle", null_fraction=0.1, min_null_bases=200_000):
    """Attribute every base of every region in REGIONS (BED/narrowPeak) of GENOME (FASTA).

    Writes attributions.npz, attributions.bw, regions.tsv and run.json into --out.
    """
    _setup_logging(quiet)
    from .peaks import PeakOptions
    from .pipeline import AttributeOptions, run_attribute
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
        peaks=PeakOptions(fdr=fdr, null=null, null_fraction=null_fraction, min_null_bases=min_null_bases,
                          seed=seed).check() if peaks else False,
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
    _setup_logging(quiet)
    from .shards import merge_runs

    record = merge_runs(list(shard_dirs), out_dir, force=force, command=["seqsal", *sys.argv[1:]])
    logging.getLogger("seqsal").info(
        "%s, %s merged in %.1f s -> %s", plural(len(record["shards"]), "shard"), plural(record["n_regions"], "region"),
        record["timing_seconds"]["merge"], out_dir,
    )


@main.command("export-modisco")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "-o", "dest", required=True, type=click.Path(file_okay=False),
              help="Folder for ohe.npy and shap.npy.")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Row width in bases, each region centred in it (cropped or zero-padded). [the longest region]")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def export_modisco(out_dir, dest, width, quiet):
    """Write the arrays of the run in OUT_DIR as the dense (N, 4, L) files tfmodisco-lite reads.

    attributions.npz stores regions end to end (no padding); this writes DEST/ohe.npy (one-hot) and DEST/shap.npy
    (hypothetical attributions), float32 (N, 4, width), for `modisco motifs -s DEST/ohe.npy -a DEST/shap.npy -n 2000`.
    """
    _setup_logging(quiet)
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
    _setup_logging(quiet)
    from .report import write_logos

    write_logos(out_dir, top=top, fmt=fmt, workers=workers, hypothetical=hypothetical, progress=not quiet)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--seqlets", "seqlets_path", type=click.Path(dir_okay=False), default=None,
              help="Seqlet table to cluster (columns region_index, offset_start, offset_end, sign), e.g. "
                   "OUT_DIR/seqlets.tsv. Default: seqlets re-called from the tracks at --seqlet-fdr.")
@click.option("--seqlet-fdr", type=click.FloatRange(min=0, max=1, min_open=True), default=0.9, show_default=True,
              help="FDR of the seqlets re-called for discovery, against the run's shuffled null (null.npz; else "
                   "the Laplace null): lenient, so that weak motifs have instances to cluster, but sized by "
                   "the evidence. Motifs no more frequent than in the null's shuffled sequence are dropped "
                   "(motifs.tsv: n_support_seqlets, n_null_seqlets, enrichment, support_pvalue).")
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
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of that sample.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def motifs(out_dir, seqlets_path, seqlet_fdr, database, jaspar_release, jaspar_collection, jaspar_tax_group,
           jaspar_all_versions, min_seqlets, max_seed_seqlets, max_seqlets, seed, quiet):
    """Cluster the seqlets of the run in OUT_DIR into motifs and match them to known motifs.

    Writes motifs.meme, motifs.tsv, motifs.npz (CWM, hypothetical CWM, PWM), motifs.h5 (tfmodisco-lite's layout,
    for `modisco report` and other readers), motif_instances.tsv (with each instance's seqlet p and q) and, with a
    database, motif_matches.tsv (TOMTOM-style p-, E- and q-values). A motif is kept only when the windows of the
    run that match it outnumber those of the run's shuffled null (scaled by bases) by a one-sided binomial test.
    """
    _setup_logging(quiet)
    from .motifs import DiscoveryOptions, run_motifs
    from .motifs.jaspar import JasparQuery

    options = DiscoveryOptions(min_seqlets=min_seqlets, max_seed_seqlets=max_seed_seqlets, max_seqlets=max_seqlets,
                               seed=seed)
    run_motifs(out_dir, seqlets_path=seqlets_path, database=database, options=options, progress=not quiet,
               seqlet_fdr=seqlet_fdr, jaspar=JasparQuery(jaspar_release, jaspar_collection, jaspar_tax_group,
                                                         jaspar_all_versions))


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
    _setup_logging(quiet)
    from .report import write_report

    path = write_report(out_dir, top=top, workers=workers)
    logging.getLogger("seqsal").info("report -> %s", path)


@main.command("call-peaks")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--fdr", type=float, default=0.05, show_default=True, help="Target false discovery rate of the calls.")
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
def call_peaks(out_dir, fdr, null, test_widths, max_length, element_gap, quiet):
    """Call seqlets and elements again on the run in OUT_DIR, without recomputing attributions.

    Rewrites seqlets.bed, elements.bed (narrowPeak), seqlets.tsv, elements.tsv and the peaks entry of run.json.
    """
    _setup_logging(quiet)
    from .peaks import call_peaks_from_run, describe_calls

    calls = call_peaks_from_run(out_dir, fdr=fdr, null=null, test_widths=test_widths, max_length=max_length,
                                element_gap=element_gap)
    logging.getLogger("seqsal").info("%s -> %s", describe_calls(calls.info, fdr), out_dir)


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
@click.option("--seed", type=int, default=None,
              help="Random seed of the region sample, backgrounds, references and noise. [the run's --seed]")
@method_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@handle_errors
def evaluate(out_dir, methods, truth, max_regions, background, sanity, seed, quiet, method_params=None):
    """Faithfulness of attribution methods on the regions of the run in OUT_DIR.

    Deletion/insertion curves and their AUCs, ground-truth AUROC/AUPRC (--truth), sanity check, stability and the
    effective receptive field; writes evaluation.tsv, evaluation_curves.tsv, evaluation_sanity.tsv,
    evaluation_erf.tsv and evaluation/*.png into OUT_DIR. Every method scores the windows the run attributed (strand,
    tiling, --rc, gradient correction as the run had them); the run's own method runs with the run's parameters.
    Method options (--references, --steps, ...) given here apply to every method that takes them.
    """
    _setup_logging(quiet)
    from .evaluate import evaluate_run
    from .methods import METHOD_OPTIONS

    from .evaluate_inputs import DEFAULT_METHODS

    names = list(DEFAULT_METHODS) if methods is None else [name.strip() for name in methods.split(",") if name.strip()]
    given = method_params or {}
    per_method = {name: {k: v for k, v in given.items() if k in METHOD_OPTIONS.get(name, ()) and v is not None}
                  for name in names}
    result = evaluate_run(out_dir, names, truth=truth, max_regions=max_regions, background=background, sanity=sanity,
                          seed=seed, method_params=per_method, progress=not quiet, named=methods is not None)
    log = logging.getLogger("seqsal")
    for row in result.itertuples(index=False):
        extra = f", AUROC {row.auroc:.3f}, AUPRC {row.auprc:.3f}" if "auroc" in result else ""
        log.info("%-12s deletion AUC %.3f, insertion AUC %.3f%s", row.method, row.deletion_auc, row.insertion_auc,
                 extra)
    log.info("-> %s/evaluation.tsv", out_dir)


@main.command("check-seqlets")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--max-seqlets", type=click.IntRange(min=1), default=200, show_default=True,
              help="Check this many seqlets, the most significant first.")
@click.option("--draws", type=click.IntRange(min=1), default=8, show_default=True,
              help="Random replacements of each stretch (the change is their mean).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=0.05, show_default=True,
              help="A seqlet is confirmed when its replacement p-value against the controls is at most this.")
@click.option("--seed", type=int, default=None, help="Random seed of the replacements. [the run's --seed]")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def check_seqlets(out_dir, max_seqlets, draws, alpha, seed, quiet):
    """Ask the model whether it confirms each called seqlet of the run in OUT_DIR.

    Each seqlet's bases are replaced by random bases in the model window the run read; the seqlet is confirmed
    when the prediction moves the way its sign says, further than the same replacement of stretches no call
    covers (p <= --alpha). No attribution method is involved. Writes seqlet_check.tsv (name, sign, score, qvalue,
    change, effect, pvalue, confirmed) into OUT_DIR.
    """
    _setup_logging(quiet)
    from .seqlet_check import check_seqlets_run

    check_seqlets_run(out_dir, max_seqlets=max_seqlets, draws=draws, alpha=alpha, seed=seed)
    logging.getLogger("seqsal").info("-> %s/seqlet_check.tsv", out_dir)



@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--strict", is_flag=True,
              help="Exit with code 3 when any check says 'shortcut likely' (for workflows to gate on).")
@click.option("--model/--no-model", "use_model", default=True, show_default=True,
              help="Run the check that needs the model (predictions of dinucleotide shuffles of a sample).")
@click.option("--sample", type=click.IntRange(min=5), default=50, show_default=True,
              help="Regions whose windows the model check shuffles.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the nulls and the sample.")
@click.option("--quiet", "-q", is_flag=True, help="No info logs.")
@handle_errors
def audit(out_dir, strict, use_model, sample, seed, quiet):
    """Check the run in OUT_DIR for shortcuts and artefacts the model relies on.

    Writes OUT_DIR/audit.tsv (check, statistic, reference, value, pvalue, verdict, evidence) and OUT_DIR/audit/*.png:
    positional bias, unmatched high-contribution motifs, GC/CpG and soft-mask reliance, response to composition-
    preserving shuffles, window edges, padding and N. Verdicts: ok, look, shortcut likely, n/a.
    """
    _setup_logging(quiet)
    from .audit import STRICT_EXIT_CODE, AuditOptions, audit_run

    table = audit_run(out_dir, AuditOptions(model=use_model, model_regions=sample, seed=seed))
    for row in table.itertuples(index=False):
        click.echo(f"{row.verdict:16s} {row.check:24s} {row.evidence}")
    if strict and (table["verdict"] == "shortcut likely").any():
        sys.exit(STRICT_EXIT_CODE)


def _chroms(text: str | None) -> list[str]:
    return [c for c in (text or "").split(",") if c]


@main.command()
@click.argument("genome", type=click.Path(dir_okay=False))
@click.argument("labels", type=click.Path(dir_okay=False))
@click.option("--out", "-o", "output", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (seqsal .safetensors; `seqsal attribute` loads it as it is).")
@click.option("--architecture", type=click.Choice(["basset", "bpnet"]), default="basset", show_default=True)
@click.option("--model-config", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON/YAML of the architecture's constructor arguments.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default="regression", show_default=True,
              help="MSE, or binary cross-entropy on logits (labels 0/1).")
@click.option("--tasks", default=None, help="TSV labels: comma-separated task columns [every value column].")
@click.option("--value-column", type=click.IntRange(min=4), default=None,
              help="BED labels: 1-based value column [narrowPeak 7, BED 5].")
@click.option("--regions", default=None, type=click.Path(dir_okay=False),
              help="bigWig labels: the BED of regions to average the signal over.")
@click.option("--window", type=click.IntRange(min=8), default=None, help="Input length in bases [config or 500].")
@click.option("--valid-chroms", required=True, help="Comma-separated validation chromosomes (early stopping).")
@click.option("--test-chroms", default="", help="Comma-separated test chromosomes (final held-out metrics).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=2e-3, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=3, show_default=True,
              help="Stop after this many epochs without a better validation score.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--rc-augment/--no-rc-augment", default=True, show_default=True)
@click.option("--max-shift", type=click.IntRange(min=0), default=3, show_default=True, help="Shift augmentation, bases.")
@click.option("--fourier-prior", type=click.FloatRange(min=0), default=0.0, help="Weight of the Fourier prior (try 0.1).")
@click.option("--fourier-freq-limit", type=click.IntRange(min=1), default=None, help="Cut-off frequency index [0.15 L].")
@click.option("--fourier-positives", type=float, default=0.5, help="Fourier prior on label 1 or > this quantile [0.5].")
@click.option("--mask-prior", nargs=2, type=(str, click.FloatRange(min=0)), default=None,
              metavar="EXCLUDE.bed[,INCLUDE.bed] WEIGHT", help="Penalise attribution in M-, reward it in M+.")
@click.option("--saliency-cutout", type=click.FloatRange(0, 1), default=0.0, help="Probability of a salient cutout.")
@click.option("--random-cutout", type=click.FloatRange(0, 1), default=0.0, help="Probability of a random cutout.")
@click.option("--consistency", nargs=2, type=(click.Choice(["rc", "shift"]), click.FloatRange(min=0)), default=None,
              metavar="rc|shift WEIGHT", help="Map consistency under reverse complement or a shift.")
@click.option("--prior-every", type=click.IntRange(min=1), default=None,
              help="Gradient terms on one step in K, weight x K (lazy regularisation) [2; 5 with --consistency].")
@click.option("--device", default=None, help="cuda, cpu, mps [best available].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="Autocast on a GPU (auto: bf16 there, fp32 on the CPU).")
@click.option("--resume", is_flag=True, help="Continue from OUT.ckpt after an interruption.")
@click.option("--force", is_flag=True, help="Overwrite a model (and its report) already at OUT; start over.")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Training report (and its .json) [STEM.train_report.html beside OUT = STEM.safetensors].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or info logs.")
@handle_errors
def train(genome, labels, output, architecture, model_config, task, tasks, value_column, regions, window,
          valid_chroms, test_chroms, epochs, batch_size, learning_rate, patience, seed, rc_augment, max_shift,
          fourier_prior, fourier_freq_limit, fourier_positives, mask_prior, saliency_cutout, random_cutout,
          consistency, prior_every, device, precision, resume, force, report_path, quiet):
    """Train a model on GENOME windows with LABELS (BED/narrowPeak value, TSV of tasks, or bigWig), with
    optional attribution priors; writes OUT, OUT.ckpt and STEM.train_report.html/.json (OUT = STEM.safetensors)."""
    _setup_logging(quiet)
    from .models.files import _read_config
    from .train import TrainOptions, train_model
    from .train_data import read_labels

    options = TrainOptions(
        architecture=architecture, model_config=_read_config(model_config), task=task, window=window,
        valid_chroms=_chroms(valid_chroms), test_chroms=_chroms(test_chroms), epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, patience=patience, seed=seed, rc_augment=rc_augment, max_shift=max_shift,
        fourier_prior=fourier_prior, fourier_freq_limit=fourier_freq_limit, fourier_positives=fourier_positives,
        mask_prior=mask_prior[0] if mask_prior else None, mask_weight=mask_prior[1] if mask_prior else 0.0,
        saliency_cutout=saliency_cutout, random_cutout=random_cutout,
        consistency=consistency[0] if consistency else None, consistency_weight=consistency[1] if consistency else 0.0,
        prior_every=prior_every, device=device, precision=precision)
    table = read_labels(labels, tasks=_chroms(tasks) or None, value_column=value_column, regions=regions)
    summary = train_model(genome, table, output, options, resume=resume, quiet=quiet, report=report_path,
                          force=force)
    logging.getLogger("seqsal").info("model -> %s (best epoch %d, validation %.4f)", output, summary["best_epoch"],
                                     summary["best_score"])


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

"""seqsal: which bases drive a DNA sequence model's predictions, and which stretches look like regulatory elements.

The notebook API (the CLI is a thin layer over the same functions)::

    import seqsal
    x = seqsal.one_hot_encode("ACGT...")                         # (4, L) float32, A/C/G/T
    attr = seqsal.attribute(model, X, method="grad_x_input")      # (N, 4, L)
    for r in seqsal.iter_attributions("genome.fa", "regions.bed", "model.safetensors"):
        r.one_hot, r.hypothetical, r.projected                    # (4, L), (4, L), (L,)
"""
__version__ = "0.1.0"

# The public names and the submodule each lives in. They are imported on first use (PEP 562), so that
# `import seqsal` and `seqsal --version` do not pay for torch and pandas (about 1.5 s) until needed.
_EXPORTS = {
    "attribution": ("Target", "correct_gradient"),
    "encode": ("one_hot_decode", "one_hot_encode", "reverse_complement", "reverse_complement_one_hot"),
    "devices": ("select_device",),
    "engine": ("RegionResult", "iter_region_attributions"),
    "errors": ("InputError",),
    "genome": ("Genome",),
    "models": ("BassetCNN", "BPNet", "LoadedModel", "build_model", "load_model", "save_model"),
    "methods": ("METHODS", "attribute", "completeness", "deep_lift_shap", "gradcam", "hypothetical_attributions",
                "integrated_gradients", "ism", "ism_deltas", "make_baselines", "smoothgrad"),
    "shuffle": ("dinucleotide_shuffle", "dinucleotide_shuffle_string"),
    "pipeline": ("AttributeOptions", "iter_attributions", "run_attribute"),
    "relocate": ("relocate_run",),
    "peaks": ("PeakCalls", "PeakOptions", "call_peaks", "call_peaks_from_run"),
    "regions": ("read_regions", "resize_regions", "tile_starts"),
    "motifs": ("Motif", "compare_motifs", "discover_motifs", "read_meme", "run_motifs", "write_meme"),
    "plot": ("motif_figure", "region_figure", "seqlet_figure"),
    "report": ("write_logos", "write_report"),
    "evaluate": ("deletion_insertion", "effective_receptive_field", "evaluate_run", "sanity_check"),
    "audit": ("AuditOptions", "audit_run"),
    "seqlet_check": ("check_seqlets", "check_seqlets_run", "withhold_unconfirmed"),
    "train": ("train_model",),
    "train_options": ("TrainOptions",),
    "train_data": ("read_labels",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Import a public name (or a submodule, e.g. ``seqsal.simulate``) the first time it is used."""
    import importlib.util

    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

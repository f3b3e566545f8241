"""seqsal: which bases drive a DNA sequence model's predictions, and which stretches look like regulatory elements.

The notebook API (the CLI is a thin layer over the same functions)::

    import seqsal
    x = seqsal.one_hot_encode("ACGT...")                         # (4, L) float32, A/C/G/T
    attr = seqsal.attribute(model, X, method="grad_x_input")      # (N, 4, L)
    for r in seqsal.iter_attributions("genome.fa", "regions.bed", "model.safetensors"):
        r.one_hot, r.hypothetical, r.projected                    # (4, L), (4, L), (L,)
"""
__version__ = "0.1.0"

from .attribution import METHODS, Target, attribute, correct_gradient, hypothetical_attributions  # noqa: E402
from .encode import (  # noqa: E402
    one_hot_decode,
    one_hot_encode,
    reverse_complement,
    reverse_complement_one_hot,
)
from .engine import RegionResult, iter_region_attributions, select_device  # noqa: E402
from .errors import InputError  # noqa: E402
from .genome import Genome  # noqa: E402
from .models import BassetCNN, BPNet, LoadedModel, build_model, load_model, save_model  # noqa: E402
from .methods import (  # noqa: E402
    completeness,
    deep_lift_shap,
    gradcam,
    integrated_gradients,
    ism,
    ism_deltas,
    make_baselines,
    smoothgrad,
)
from .shuffle import dinucleotide_shuffle, dinucleotide_shuffle_string  # noqa: E402
from .pipeline import AttributeOptions, iter_attributions, run_attribute  # noqa: E402
from .peaks import PeakCalls, PeakOptions, call_peaks, call_peaks_from_run  # noqa: E402
from .regions import read_regions, resize_regions, tile_starts  # noqa: E402

__all__ = [
    "PeakCalls", "PeakOptions", "call_peaks", "call_peaks_from_run",
    "AttributeOptions", "BPNet", "BassetCNN", "Genome", "InputError", "LoadedModel", "METHODS", "RegionResult",
    "Target", "attribute", "build_model", "correct_gradient", "hypothetical_attributions", "iter_attributions",
    "iter_region_attributions", "load_model", "one_hot_decode", "one_hot_encode", "read_regions",
    "resize_regions", "reverse_complement", "reverse_complement_one_hot", "run_attribute", "save_model",
    "select_device", "tile_starts",
    "completeness", "deep_lift_shap", "dinucleotide_shuffle", "dinucleotide_shuffle_string", "gradcam",
    "integrated_gradients", "ism", "ism_deltas", "make_baselines", "smoothgrad",
]

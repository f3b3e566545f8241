"""Attribution methods, one module per family, and the registry and dispatcher over them.

Every method keeps the contract ``fn(model, x, target, **params) -> (hypothetical (N, 4, L), prediction (N,))``
and ``projected = hypothetical * x``. What *hypothetical* means per method:

``saliency``, ``grad_x_input`` (:mod:`seqsal.attribution`)
    The input gradient (gradient-corrected by default); grad x input is its projection.
``smoothgrad`` (:mod:`.smoothgrad`)
    Mean input gradient over ``samples`` noisy copies ``x + N(0, noise²)``; a gradient like saliency
    (gradient correction applies as usual).
``ig`` (:mod:`.ig`, integrated gradients) and ``deepshap`` (:mod:`.deeplift`, DeepLIFT/DeepSHAP, rescale rule)
    From multipliers ``m`` (the path-averaged gradient, or the DeepLIFT multipliers) and a baseline ``b``
    (:mod:`.references`) the hypothetical contribution of base ``i`` is ``m_i - Σ_c b_c m_c``, i.e.
    ``(e_i - b) · m`` — what the position would contribute if it held base ``i`` — averaged over baselines.
    For one-hot ``x``, ``(hypothetical * x).sum(channels)`` is ``(x - b) · m``, the method's per-base
    attribution, so the sum over positions is ``f(x) - mean f(b)`` (completeness / summation-to-delta). The
    same convention as tangermeme's ``deep_lift_shap(hypothetical=True)``. Gradient correction is *not*
    applied to these (it would break summation-to-delta).
``ism`` (:mod:`.ism`, in-silico saturation mutagenesis)
    ``delta[b, p] = f(x with base b at p) - f(x)`` centred over the four bases at each position: the
    projected value at ``p`` is minus the mean effect of the substitutions there. Uncentred deltas:
    :func:`ism_deltas`.
``gradcam`` (:mod:`.gradcam`)
    Grad-CAM of a layer's feature maps (``layer``; default the rectified output of the last convolution block,
    the last activation applied to a convolution's feature map), linearly upsampled to bases and repeated over
    the four channels, so the projected track is the Grad-CAM value at each base (0 at N). Not corrected.

The bigWig track of a method is its projected contribution summed over the channels, except for ``saliency``:
the gradient's magnitude ``max_c |dy/dx_c|`` (:func:`attribution_track`).

References and noise are drawn from a generator seeded by ``seed`` and the bytes of each sequence, so a
sequence gets the same references whatever batch it lands in (same seed, same bytes out).

:mod:`.registry` holds the table of methods (:data:`METHODS`, which ones are corrected, take references, and
their command-line options); :mod:`.dispatch` runs one (:func:`hypothetical_attributions`, :func:`attribute`).
"""
from __future__ import annotations

from .deeplift import UnsupportedLayer, deep_lift_shap, deeplift_multipliers
from .dispatch import ON_ERROR, attribute, check_on_error, hypothetical_attributions, nonfinite_rows, on_nonfinite
from .gradcam import gradcam
from .ig import completeness, integrated_gradients
from .ism import ISMPlan, ism, ism_deltas, ism_plan
from .references import BASELINES, IncompleteAttribution, make_baselines, relative_completeness, sequence_rng
from .registry import (
    COMPLETENESS_TOLERANCE,
    FOCUSED_METHODS,
    METHOD_OPTIONS,
    METHODS,
    PROJECTED_BY_DEFAULT,
    REFERENCE_METHODS,
    SPECS,
    UNCORRECTED,
    MethodSpec,
    attribution_track,
    method_params,
)
from .smoothgrad import smoothgrad

__all__ = [
    "BASELINES", "COMPLETENESS_TOLERANCE", "FOCUSED_METHODS", "ISMPlan", "IncompleteAttribution", "METHODS", "METHOD_OPTIONS", "MethodSpec", "PROJECTED_BY_DEFAULT", "REFERENCE_METHODS",
    "SPECS", "UNCORRECTED", "UnsupportedLayer", "attribute", "attribution_track", "completeness", "deep_lift_shap", "deeplift_multipliers",
    "gradcam", "hypothetical_attributions", "integrated_gradients", "ism", "ism_deltas", "ism_plan",
    "make_baselines", "method_params", "relative_completeness", "sequence_rng", "smoothgrad",
    "ON_ERROR", "check_on_error", "nonfinite_rows", "on_nonfinite",
]

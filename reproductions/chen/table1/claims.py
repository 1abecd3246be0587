"""Chen et al. (2018), Table 1: the claims, judged from the per-seed results.

A gap between two models is judged against ``close_sd`` × their spread over seeds
(:func:`.summary.spread`); the accuracy comparisons need every compared model to have
learned the task (the floor :data:`MAX_ERROR_PCT`). Each claim's note names the models
it rests on that did not meet the plateau criterion."""

from __future__ import annotations

from nnde.claims import ClaimSet, check, convergence_note, fmt
from nnde.results import Results

from .summary import convergence, spread, summarise

claim = ClaimSet()

#: floor of the accuracy comparisons: a model above this test error (in %) has not learned
#: the 10-class task (chance: 90 %), and a comparison resting on it is inconclusive
MAX_ERROR_PCT = 70.0
FLOOR = (f"every compared model's mean test error ≤ {MAX_ERROR_PCT:g} % (chance is "
         f"90 %: each beats it by at least {90 - MAX_ERROR_PCT:g} pp)")


def table(res: Results) -> dict:
    """The per-model summary rows by kind (:func:`.summary.summarise`)."""
    per_seed = res.frame("per_seed")
    return {r.kind: r for r in summarise(per_seed, res.record("config")["dataset"])
            .itertuples(index=False)}


def _learned(by: dict, *kinds: str) -> bool:
    """The floor: every compared model has learned the task."""
    return all(by[k].test_error_mean <= MAX_ERROR_PCT for k in kinds)


def _note(res: Results, *kinds: str) -> str:
    """The convergence note on the (model, seed) runs of ``kinds``."""
    conv = convergence(res.frame("per_seed"))
    return convergence_note(conv, [r["model"] for r in conv if r["kind"] in kinds])


@claim
def odenet_close_to_resnet(res: Results):
    """Table 1: the ODE-Net's test error is close to the ResNet's (0.42 % vs 0.41 %).
    Reproduced when the mean gap is ≤ close_sd × spread over seeds, partly ≤ twice that."""
    by, k_sd = table(res), res.record("config")["close_sd"]
    if "odenet" not in by or "resnet" not in by:
        return None
    o, r = by["odenet"], by["resnet"]
    s = spread(o, r, res.record("info")["n_test"])
    gap = o.test_error_mean - r.test_error_mean
    return check(
        "odenet_close_to_resnet",
        "The ODE-Net's test error is close to the ResNet's (Table 1)",
        paper="0.42 % vs 0.41 % (parameters 0.22M vs 0.60M)",
        ours=f"{fmt(o.test_error_mean, 3)} ± {fmt(o.test_error_sd, 2)} % vs "
        f"{fmt(r.test_error_mean, 3)} ± {fmt(r.test_error_sd, 2)} % over "
        f"{o.seeds}/{r.seeds} seeds: gap {fmt(gap, 3)} pp, spread {fmt(s, 3)} pp "
        f"(parameters {o.params} vs {r.params})",
        rule=f"Table 1: mean error(ODE-Net) − mean error(ResNet) ≤ {k_sd:g} × spread "
        "(the larger seed std of the two) → reproduced; ≤ "
        f"{2 * k_sd:g} × spread → partly. The parameter counts are structural "
        "and not part of the verdict.",
        passed=gap <= k_sd * s,
        partly=gap <= 2 * k_sd * s,
        competent=_learned(by, "odenet", "resnet"),
        floor=FLOOR,
        note=" ".join(p for p in (
            "" if gap <= k_sd * s
            else f"The ODE-Net's error is {fmt(gap, 3)} pp above the ResNet's, "
            f"{fmt(gap / s, 2)} × the spread over seeds.",
            _note(res, "odenet", "resnet"),
        ) if p),
    )


@claim
def mlp_worst(res: Results):
    """Table 1: the one-hidden-layer MLP has the highest test error of the four (1.60 %
    against 0.41–0.47 %). Reproduced when its mean error exceeds every convolutional
    model's by more than close_sd × their spread over seeds."""
    by, k_sd = table(res), res.record("config")["close_sd"]
    if "mlp" not in by or len(by) <= 1:
        return None
    m, n_test = by["mlp"], res.record("info")["n_test"]
    others = [by[k] for k in ("resnet", "rknet", "odenet") if k in by]
    gaps = [(x, m.test_error_mean - x.test_error_mean, spread(m, x, n_test)) for x in others]
    return check(
        "mlp_worst",
        "The one-hidden-layer MLP has the highest test error of the four models (Table 1)",
        paper="1.60 % vs 0.41 % (ResNet), 0.47 % (RK-Net), 0.42 % (ODE-Net)",
        ours=f"MLP {fmt(m.test_error_mean, 3)} ± {fmt(m.test_error_sd, 2)} %; "
        + "; ".join(f"{x.model} {fmt(x.test_error_mean, 3)} % (gap {fmt(g, 3)} pp, "
                    f"spread {fmt(s, 3)} pp)" for x, g, s in gaps),
        rule=f"Table 1: mean error(MLP) − mean error(X) > {k_sd:g} × spread (the "
        "larger seed std of the two) for every convolutional model X",
        passed=all(g > k_sd * s for _, g, s in gaps),
        note=_note(res, *by),
        competent=_learned(by, "mlp", *(k for k in ("resnet", "rknet", "odenet") if k in by)),
        floor=FLOOR,
    )


@claim
def odenet_least_memory(res: Results):
    """Table 1, memory column: the ODE-Net (adjoint, O(1)) holds less activation memory
    in a training step than the RK-Net (O(L̃)) and the ResNet (O(L)): the peak saved-
    tensor bytes, median over seeds. Partly when it beats the RK-Net only."""
    by = table(res)
    if not {"odenet", "rknet", "resnet"} <= set(by):
        return None
    o, k, r = by["odenet"], by["rknet"], by["resnet"]
    return check(
        "odenet_least_memory",
        "The ODE-Net (adjoint) holds less activation memory in a training step than "
        "the RK-Net and the ResNet (Table 1)",
        paper="O(1) vs O(L̃) and O(L)",
        ours=f"{fmt(o.peak_saved_MB, 3)} MB vs {fmt(k.peak_saved_MB, 3)} MB (RK-Net, "
        f"{fmt(k.nfe_forward, 3)} NFE) and {fmt(r.peak_saved_MB, 3)} MB (ResNet)",
        rule="Table 1, memory column: peak saved-tensor bytes (median over seeds): "
        "ODE-Net < RK-Net and ODE-Net < ResNet",
        passed=o.peak_saved_MB < k.peak_saved_MB and o.peak_saved_MB < r.peak_saved_MB,
        partly=o.peak_saved_MB < k.peak_saved_MB,
        note=_note(res, "odenet", "rknet", "resnet"),
    )

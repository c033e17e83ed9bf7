"""The losses on hand-made logits, against the formulas of DEVELOPERS.md."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losses import (
    PROBLEM_TYPES,
    LossKind,
    as_loss_kind,
    dimp_weights,
    example_weights,
    focal_weights,
    gold_probabilities,
    imp_weights,
    loss_kind,
    weighted_nll,
    weighted_nll_sum,
    with_fixed_weight,
)

LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.5, 0.5], [3.0, -1.0]])
LABELS = torch.tensor([0, 1, 1, 1])
QUALITY = torch.tensor([0.9, 0.6, 0.3, 0.1])
DIVERSITY = torch.tensor([0.5, 0.8, 0.6, 0.2])


def _nll() -> torch.Tensor:
    return F.cross_entropy(LOGITS, LABELS, reduction="none")


def test_gold_probabilities_are_softmax_at_the_label():
    p = gold_probabilities(LOGITS, LABELS)
    assert p[0].item() == pytest.approx(math.exp(2) / (math.exp(2) + 1))
    assert p[2].item() == pytest.approx(0.5)


def test_ce_is_plain_cross_entropy():
    assert weighted_nll("ce", LOGITS, LABELS).item() == pytest.approx(F.cross_entropy(LOGITS, LABELS).item())


def test_dimp_weight_is_quality_over_model_probability():
    p = gold_probabilities(LOGITS, LABELS)
    expected = (QUALITY / p * _nll()).mean()
    assert weighted_nll(LossKind.DIMP, LOGITS, LABELS, QUALITY).item() == pytest.approx(expected.item())
    assert torch.allclose(dimp_weights(QUALITY, p), QUALITY / p)


def test_imp_weight_is_quality_over_diversity():
    expected = (QUALITY / DIVERSITY * _nll()).mean()
    assert weighted_nll(LossKind.IMP, LOGITS, LABELS, QUALITY, DIVERSITY).item() == pytest.approx(expected.item())
    assert torch.allclose(imp_weights(QUALITY, DIVERSITY), QUALITY / DIVERSITY)


def test_quality_only_weight_is_quality():
    expected = (QUALITY * _nll()).mean()
    assert weighted_nll(LossKind.QUALITY_ONLY, LOGITS, LABELS, QUALITY).item() == pytest.approx(expected.item())


def test_mean_over_batch_not_over_weight_sum():
    weights = QUALITY / DIVERSITY
    loss = weighted_nll(LossKind.IMP, LOGITS, LABELS, QUALITY, DIVERSITY)
    assert loss.item() == pytest.approx(((weights * _nll()).sum() / len(LABELS)).item())
    assert loss.item() != pytest.approx(((weights * _nll()).sum() / weights.sum()).item())


def test_label_smoothing_smooths_each_term_and_keeps_the_weights():
    eps, weights = 0.2, QUALITY / DIVERSITY
    log_p = LOGITS.log_softmax(-1)
    smoothed = (1 - eps) * _nll() - eps * log_p.mean(-1)  # transformers' LabelSmoother, per example
    assert weighted_nll_sum(LOGITS, LABELS, weights, eps).item() == pytest.approx((weights * smoothed).sum().item())
    assert weighted_nll_sum(LOGITS, LABELS, None, 0.0).item() == pytest.approx(_nll().sum().item())
    loss = weighted_nll(LossKind.IMP, LOGITS, LABELS, QUALITY, DIVERSITY, label_smoothing=eps)
    assert loss.item() == pytest.approx((weights * smoothed).mean().item())  # the Trainer's loss, smoothed


def test_half_precision_logits_give_a_float32_loss():
    # Under bf16 mixed precision the logits come in bf16; the loss is still summed in float32.
    total = weighted_nll_sum(LOGITS.bfloat16(), LABELS, QUALITY)
    assert total.dtype == torch.float32
    assert total.item() == pytest.approx((QUALITY * _nll()).sum().item(), rel=1e-2)


def test_a_fixed_weight_replaces_the_weights_of_the_masked_examples_only():
    real = torch.tensor([False, True, False, True])
    weights = QUALITY / DIVERSITY
    assert torch.equal(with_fixed_weight(weights, real, 1.0), torch.where(real, 1.0, weights))
    assert torch.equal(with_fixed_weight(None, real, 2.0), torch.tensor([1.0, 2.0, 1.0, 2.0]))  # CE: 1 elsewhere


def test_imp_with_equal_checkers_is_ce():
    loss = weighted_nll(LossKind.IMP, LOGITS, LABELS, QUALITY, QUALITY.clone())
    assert loss.item() == pytest.approx(F.cross_entropy(LOGITS, LABELS).item())


def test_focal_with_gamma_zero_is_ce():
    loss = weighted_nll(LossKind.FOCAL, LOGITS, LABELS, gamma=0.0)
    assert loss.item() == pytest.approx(F.cross_entropy(LOGITS, LABELS).item())


def test_focal_gamma_one_weight():
    p = gold_probabilities(LOGITS, LABELS)
    expected = ((1 - p) * _nll()).mean()
    assert weighted_nll(LossKind.FOCAL, LOGITS, LABELS, gamma=1.0).item() == pytest.approx(expected.item())
    assert torch.allclose(focal_weights(p, 2.0), (1 - p) ** 2)


@pytest.mark.parametrize("kind", [LossKind.DIMP, LossKind.FOCAL])
def test_no_gradient_flows_through_model_dependent_weights(kind):
    logits = LOGITS.clone().requires_grad_(True)
    weighted_nll(kind, logits, LABELS, QUALITY).backward()
    weights = example_weights(kind, LOGITS, LABELS, QUALITY)
    # d/dz of mean(w * nll) with w constant is w * (softmax - onehot) / N.
    expected = weights.view(-1, 1) * (LOGITS.softmax(-1) - F.one_hot(LABELS, 2)) / len(LABELS)
    assert torch.allclose(logits.grad, expected, atol=1e-6)


@pytest.mark.parametrize("kind", [LossKind.IMP, LossKind.DIMP, LossKind.QUALITY_ONLY])
def test_weights_are_detached_from_checker_tensors(kind):
    quality = QUALITY.clone().requires_grad_(True)
    weights = example_weights(kind, LOGITS, LABELS, quality, DIVERSITY)
    assert not weights.requires_grad


def test_each_weight_function_detaches_what_it_is_given():
    """The method's weights are constants of the step, also when a caller hands the functions tensors with grad."""
    model = gold_probabilities(LOGITS.clone().requires_grad_(True), LABELS)
    checker = QUALITY.clone().requires_grad_(True)
    for weights in (dimp_weights(QUALITY, model), imp_weights(QUALITY, checker), focal_weights(model, 2.0)):
        assert not weights.requires_grad


def test_a_model_probability_rounded_above_one_gives_focal_weight_zero_not_nan():
    assert focal_weights(torch.tensor([1.0 + 2**-23, 0.75]), gamma=0.5).tolist() == [0.0, 0.5]


def test_a_fixed_weight_of_one_leaves_ce_without_weights():
    assert with_fixed_weight(None, torch.tensor([False, True]), 1.0) is None  # CE stays the plain CE loss


def test_zero_probability_gives_finite_weight():
    weights = imp_weights(torch.tensor([0.5]), torch.tensor([0.0]), epsilon=1e-6)
    assert torch.isfinite(weights).all() and weights.item() == pytest.approx(0.5 / 1e-6)
    dimp = dimp_weights(torch.tensor([0.5]), torch.tensor([0.0]))
    assert dimp.item() == pytest.approx(0.5 / 1e-6)  # the default epsilon, weight_epsilon's default too


def test_missing_checker_probabilities_are_an_error():
    with pytest.raises(ValueError, match="quality"):
        weighted_nll(LossKind.DIMP, LOGITS, LABELS)
    with pytest.raises(ValueError, match="diversity"):
        weighted_nll(LossKind.IMP, LOGITS, LABELS, QUALITY)


@pytest.mark.parametrize("name,kind", [
    ("single_label_classification", LossKind.CE),
    ("single_label_classification_dimp", LossKind.DIMP),
    ("single_label_classification_myloss_v2", LossKind.DIMP),
    ("single_label_classification_imp", LossKind.IMP),
    ("single_label_classification_myloss_importance", LossKind.IMP),
    ("single_label_classification_focalloss", LossKind.FOCAL),
    ("single_label_classification_quality_only", LossKind.QUALITY_ONLY),
])
def test_problem_type_dispatch(name, kind):
    assert loss_kind(name) is kind


def test_unknown_problem_type():
    with pytest.raises(ValueError, match="problem_type"):
        loss_kind("single_label_classification_dimpp")


@pytest.mark.parametrize("name", list(PROBLEM_TYPES))
def test_the_losses_take_a_configs_problem_type_as_well_as_a_loss_kind(name):
    kind = PROBLEM_TYPES[name]
    assert as_loss_kind(name) is as_loss_kind(kind.value) is as_loss_kind(kind) is kind
    by_name = weighted_nll(name, LOGITS, LABELS, QUALITY, DIVERSITY, gamma=2.0)
    assert by_name.item() == weighted_nll(kind, LOGITS, LABELS, QUALITY, DIVERSITY, gamma=2.0).item()


def test_an_unknown_loss_names_both_vocabularies():
    with pytest.raises(ValueError, match=r"unknown loss 'dimpp'; expected one of ce, focal, imp, dimp, quality_only, "
                                         r"or a problem_type: single_label_classification, "):
        example_weights("dimpp", LOGITS, LABELS, QUALITY)

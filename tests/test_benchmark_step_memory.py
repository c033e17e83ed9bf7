"""benchmarks/step_memory.py: one training step's peak, by what its tensors hold, on a small random BERT that takes
the main job's batch of 32 pairs of 128 tokens."""

from __future__ import annotations

import pytest

from benchmarks.step_memory import BATCH, LENGTH, step_breakdown


@pytest.fixture(scope="module")
def breakdown(tmp_path_factory) -> dict:
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("small-bert")
    config = BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=LENGTH)
    BertForSequenceClassification(config).save_pretrained(folder)
    return step_breakdown(str(folder))


def test_the_parameters_are_counted_once_in_float32(breakdown):
    assert breakdown["batch"] == BATCH and breakdown["length"] == LENGTH
    megabytes = breakdown["parameters"] * 4 / 2**20
    for step in ("first_step", "later_step"):
        assert breakdown[step]["parameter_mb"] == pytest.approx(megabytes, abs=0.1)


def test_adamw_state_appears_after_the_first_step_at_two_tensors_per_parameter(breakdown):
    first, later = breakdown["first_step"], breakdown["later_step"]
    assert "optimizer_state_mb" not in first  # AdamW makes its moments in the first step, after the peak
    assert later["optimizer_state_mb"] == pytest.approx(2 * later["parameter_mb"], abs=0.2)
    assert later["total_mb"] == pytest.approx(first["total_mb"] + later["optimizer_state_mb"], abs=0.2)


def test_the_categories_add_up_to_the_peak_and_activations_dominate(breakdown):
    for step in ("first_step", "later_step"):
        parts = {key: value for key, value in breakdown[step].items() if key != "total_mb"}
        assert sum(parts.values()) == pytest.approx(breakdown[step]["total_mb"], abs=0.1 * len(parts))
        assert max(parts, key=parts.get) == "activation_mb"

"""Evaluation splits are reordered longest first: less padding, the same metrics. A decoder whose tokenizer has
no padding token trains and classifies as an encoder does, and its pairs get a separator; a tokenizer that sets no
length limit gets the model's.
A checkpoint of another model is told apart from one of this run's."""

from __future__ import annotations

import csv
import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, GPT2Config, GPT2ForSequenceClassification,
                          PreTrainedTokenizerFast, pipeline)

from datasets import Dataset

from app.cli import main
from app.pipeline import run
from checkers.scoring import class_logits
from conftest import byte_level_tokenizer, encoder_without_head, hub_snapshot, run_with, toy_records, write_jsonl
from config.arguments import WeightedTrainingArguments
from config.loading import load_config
from references.models import ModelSource, resolve_model
from references.wandb_refs import ArtifactError
from trainer.fitting import make_trainer
from trainer.modeling import (checkpoint_mismatch, encode, for_evaluation, load_classifier, load_tokenizer,
                              load_trained_classifier, log_cut_inputs, longest_first, reads_padding_of)


def varied_lengths(tokenizer, n: int = 40) -> Dataset:
    """Toy sentences of 5 to 12 words: the label's word plus i % 8 repeated filler words."""
    records = [{**r, "text": r["text"] + " the" * (i % 8)} for i, r in enumerate(toy_records(n, seed=5))]
    return encode(Dataset.from_list(records), tokenizer, ["text"], 32)


def test_longest_first_is_a_stable_permutation_by_decreasing_length(tiny_model_dir):
    encoded = varied_lengths(AutoTokenizer.from_pretrained(tiny_model_dir))
    order = longest_first(encoded)
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    assert len(set(lengths.tolist())) == 8
    assert sorted(order.tolist()) == list(range(len(encoded)))
    assert (np.diff(lengths[order]) <= 0).all()
    for length in set(lengths.tolist()):  # ties keep their original order
        tied = order[lengths[order] == length]
        assert (np.diff(tied) > 0).all()


def test_pad_to_max_length_pads_every_input_to_the_same_length(tiny_model_dir):
    """That length is max_seq_length, or the tokenizer's limit where it is shorter (the tiny BERT's 64)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = Dataset.from_list([{"text": "good " * n, "label": 1} for n in (1, 5, 100)])
    for asked, padded in ((32, 32), (128, 64)):
        encoded = encode(texts, tokenizer, ["text"], asked, pad_to_max_length=True)
        assert [len(ids) for ids in encoded["input_ids"]] == [padded] * 3


@pytest.mark.parametrize("pad", [False, True], ids=["padded-later", "pad_to_max_length"])
@pytest.mark.parametrize("limit, level", [(26, "INFO"), (10, "WARNING"), (27, None)])
def test_inputs_cut_at_max_seq_length_are_counted_padding_aside(tiny_model_dir, caplog, pad, limit, level):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = [r["text"] + " the" * (i % 20) for i, r in enumerate(toy_records(40, seed=5))]  # 7 to 26 tokens
    reaching = sum(len(tokenizer(text)["input_ids"]) >= limit for text in texts)
    encoded = encode(Dataset.from_dict({"text": texts, "label": [0] * 40}), tokenizer, ["text"], limit, pad)
    with caplog.at_level("INFO", logger="trainer.modeling"):
        log_cut_inputs(encoded, tokenizer, limit, "training inputs")
    logged = [record for record in caplog.records if "reach max_seq_length" in record.getMessage()]
    assert [record.levelname for record in logged] == ([level] if level else [])
    if level:  # 2 of 40 (a twentieth) are told of; 34 of 40, with what would keep more of them, warned of
        assert logged[0].getMessage().startswith(f"{reaching} of 40 training inputs reach max_seq_length ({limit} "
                                                 "tokens), where longer ones are cut")
        assert ("the model reads up to 64" in logged[0].getMessage()) == (level == "WARNING")
        assert reaching == (2 if level == "INFO" else 34)


def test_evaluating_longest_first_gives_the_same_metrics(tiny_model_dir, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    encoded = varied_lengths(tokenizer)
    args = WeightedTrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=8, report_to="none",
                                     use_cpu=True, disable_tqdm=True)
    trainer = make_trainer(model, tokenizer, args, encoded, encoded)
    as_given, sorted_ = trainer.evaluate(encoded), trainer.evaluate(for_evaluation(encoded))
    assert as_given["eval_accuracy"] == sorted_["eval_accuracy"] and as_given["eval_f1"] == sorted_["eval_f1"]
    assert np.isclose(as_given["eval_loss"], sorted_["eval_loss"], rtol=1e-5)


def test_a_pair_is_joined_with_end_of_text_where_the_tokenizer_would_join_its_texts_end_to_end(tiny_model_dir):
    """GPT-2's tokenizer marks nothing between a pair's texts ('the cat sat.The dog ran.'); its end-of-text token
    goes between them, and survives truncation of the longer text. BERT's pairs are left as its tokenizer makes them."""
    pairs = Dataset.from_list([{"a": "the cat sat.", "b": "The dog ran.", "label": 0},
                               {"a": "short", "b": "long " * 80, "label": 1}])
    gpt2 = byte_level_tokenizer()
    first, second = encode(pairs, gpt2, ["a", "b"], 32)["input_ids"]
    eos = gpt2.eos_token_id
    assert first == gpt2("the cat sat.")["input_ids"] + [eos] + gpt2("The dog ran.")["input_ids"]
    assert len(second) == 32 and second[:len(gpt2("short")["input_ids"]) + 1] == gpt2("short")["input_ids"] + [eos]
    assert encode(pairs, gpt2, ["a"], 32)["input_ids"][0] == gpt2("the cat sat.")["input_ids"]  # one text: as it is
    bert = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert encode(pairs, bert, ["a", "b"], 32)["input_ids"][0] == bert("the cat sat.", "The dog ran.")["input_ids"]


def test_a_decoder_without_a_padding_token_trains_and_classifies_a_text_in_a_batch_as_alone(tiny_config,
                                                                                             tiny_model_dir, tmp_path):
    """GPT-2, Llama and Qwen ship no padding token, and batches of unequal texts need one: the end-of-text token
    pads, and the classifier, which reads a text's last token that is not padding, is told which token that is (it
    was a ValueError from the tokenizer). DIMP trains its checker and itself from such a model, and such a classifier
    scores as a checker or in predict.py."""
    decoder = tmp_path / "decoder"
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tiny_model_dir / "tokenizer.json"), eos_token="[SEP]",
                                        unk_token="[UNK]", model_max_length=64)
    assert tokenizer.pad_token is None
    tokenizer.save_pretrained(decoder)
    torch.manual_seed(0)
    GPT2ForSequenceClassification(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2,
                                             n_head=2, num_labels=2)).save_pretrained(decoder)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**tiny_config, "model_name_or_path": str(decoder),
                                  "problem_type": "single_label_classification_dimp"}))
    run(load_config(str(config)))
    trained = tmp_path / "out"
    sep = tokenizer.convert_tokens_to_ids("[SEP]")
    assert json.loads((trained / "config.json").read_text())["pad_token_id"] == sep
    assert json.loads((tmp_path / "checkers" / "quality" / "config.json").read_text())["pad_token_id"] == sep
    texts = Dataset.from_list([{"text": r["text"] + " the" * (i % 5)} for i, r in enumerate(toy_records(12, seed=2))])
    # The trained model, and the decoder as a classifier that never trained here (its config names no padding).
    for folder in (trained, decoder):
        source = ModelSource(str(folder), field="model")
        model = load_trained_classifier(source)
        batched, alone = (class_logits(model, source, texts, ["text"], 32, batch) for batch in (12, 1))
        np.testing.assert_allclose(batched, alone, atol=1e-5)


def _dimp_on_pairs(tiny_config: dict, tmp_path, model: str, **changes) -> dict:
    """A DIMP run (its quality checker built first) of `model` on toy text pairs; the data files it read."""
    files = {key: str(write_jsonl(tmp_path / f"{key}.jsonl", toy_records(16, seed, pairs=True)))
             for seed, key in enumerate(("train_file", "validation_file", "test_file", "quality_checker_train_file"))}
    run_with(tiny_config, tmp_path, model_name_or_path=model, problem_type="single_label_classification_dimp",
             **files, **changes)
    return files


def _tiny_decoder(folder) -> str:
    """A GPT-2-style classifier with a byte-level tokenizer, which joins a pair's texts end to end."""
    tokenizer = byte_level_tokenizer()
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    GPT2ForSequenceClassification(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2,
                                             n_head=2, num_labels=2)).save_pretrained(folder)
    return str(folder)


def test_a_decoder_trained_on_pairs_labels_them_in_predict_py_as_the_cards_pipeline_example_does(tiny_config,
                                                                                                  tmp_path):
    """DIMP trains its checker and a GPT-2-style decoder on pairs its tokenizer would join end to end; predict.py
    labels the test pairs with the probabilities a transformers pipeline gives them joined as the card shows."""
    files = _dimp_on_pairs(tiny_config, tmp_path, _tiny_decoder(tmp_path / "decoder"))
    trained = tmp_path / "out"
    limit = tiny_config["max_seq_length"]
    assert f'classifier("first text<|endoftext|>second text", top_k=None, truncation=True, max_length={limit})' in \
        (trained / "README.md").read_text()
    predictions = tmp_path / "predictions.csv"
    assert main(["--model", str(trained), "--input", files["test_file"], "--output", str(predictions)],
                command="predict") == 0
    with predictions.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    classifier = pipeline("text-classification", model=str(trained), device="cpu")
    for row in rows:
        answers = {a["label"]: a["score"] for a in classifier(row["text"] + "<|endoftext|>" + row["text_pair"],
                                                              top_k=None, truncation=True, max_length=limit)}
        for label, score in answers.items():
            assert float(row[f"prob_{label}"]) == pytest.approx(score, abs=2e-6)


def test_a_decoders_checker_records_what_joins_a_pair_and_one_cached_without_it_is_named_stale(tiny_config,
                                                                                                tmp_path, caplog):
    """A decoder's checker cached before pairs got a separator read them run together, so scoring with it now would
    feed it texts it never saw: its recipe records the separator, and a cached one that lacks it is named stale.
    A BERT-style checker records none (its tokenizer marks the boundary), so checkers cached before stay current."""
    _dimp_on_pairs(tiny_config, tmp_path, _tiny_decoder(tmp_path / "decoder"))
    recipe_file = tmp_path / "checkers" / "quality" / "checker_recipe.json"
    recipe = json.loads(recipe_file.read_text())
    assert recipe["pair_separator"] == "<|endoftext|>"
    del recipe["pair_separator"]  # as a checker built before the separator came in
    recipe_file.write_text(json.dumps(recipe))
    with caplog.at_level(logging.WARNING):
        _dimp_on_pairs(tiny_config, tmp_path, str(tmp_path / "decoder"), overwrite_output_dir=True)
    assert 'was trained with other pair_separator (null; this run "<|endoftext|>")' in caplog.text

    bert = tmp_path / "bert"
    bert.mkdir()
    _dimp_on_pairs(tiny_config, bert, tiny_config["model_name_or_path"], output_dir=str(bert / "out"),
                   quality_checker_model=str(bert / "quality"))
    assert "pair_separator" not in json.loads((bert / "quality" / "checker_recipe.json").read_text())


@pytest.mark.parametrize("named, read", [(None, 3), (7, 7)])
def test_a_classifier_is_told_the_tokenizers_padding_unless_its_config_names_its_own(named, read):
    model = SimpleNamespace(config=SimpleNamespace(pad_token_id=named))
    reads_padding_of(model, SimpleNamespace(pad_token_id=3))
    assert model.config.pad_token_id == read


def test_a_tokenizer_without_a_padding_or_end_of_text_token_is_refused_in_one_line(tiny_model_dir, tmp_path):
    (tmp_path / "config.json").write_bytes((tiny_model_dir / "config.json").read_bytes())
    PreTrainedTokenizerFast(tokenizer_file=str(tiny_model_dir / "tokenizer.json"), unk_token="[UNK]").save_pretrained(
        tmp_path)
    with pytest.raises(ArtifactError, match="neither a padding token nor an end-of-text token"):
        load_tokenizer(ModelSource(str(tmp_path)))


def test_a_tokenizer_that_does_not_say_how_long_a_text_the_model_reads_gets_the_model_s_limit(tiny_model_dir, tmp_path):
    """Saved without model_max_length, a tokenizer let texts of max_seq_length tokens through to a model with fewer
    positions: a RuntimeError mid-run. The tiny BERT has 64 positions; 2 are kept free for RoBERTa-family models."""
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_bytes((tiny_model_dir / name).read_bytes())
    PreTrainedTokenizerFast(tokenizer_file=str(tiny_model_dir / "tokenizer.json"), unk_token="[UNK]",
                            pad_token="[PAD]").save_pretrained(tmp_path)
    source = ModelSource(str(tmp_path))
    tokenizer = load_tokenizer(source)
    assert tokenizer.model_max_length == 62
    long = Dataset.from_list([{"text": "good " * 200, "label": 1}, {"text": "bad", "label": 0}])
    model = load_trained_classifier(source)
    logits = class_logits(model, source, long, ["text"], max_length=128)
    assert np.isfinite(logits).all()
    config = json.loads((tmp_path / "config.json").read_text())
    # GPT-2's config names them n_positions
    GPT2Config(vocab_size=config["vocab_size"], n_positions=40).save_pretrained(tmp_path)
    assert load_tokenizer(source).model_max_length == 38
    # A model without absolute positions (DeBERTa-v3's relative attention) reads longer texts: no limit is set.
    (tmp_path / "config.json").write_text(json.dumps({**config, "position_biased_input": False}))
    assert load_tokenizer(source).model_max_length > 10**6


def test_a_classifier_drawn_from_a_base_model_names_the_tasks_labels_both_ways(tiny_model_dir, tmp_path):
    """Its saved config.json is what any later user of the model reads (a pipeline, AutoConfig's label2id): with
    id2label alone set, label2id would keep the base model's LABEL_0 and LABEL_1."""
    base = encoder_without_head(tiny_model_dir, tmp_path / "base")
    model = load_classifier(ModelSource(str(base)), ["negative", "neutral", "positive"])
    model.save_pretrained(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    assert saved["label2id"] == {"negative": 0, "neutral": 1, "positive": 2}


def test_a_new_head_is_drawn_alike_whatever_order_the_base_models_config_names_the_labels_in(tiny_model_dir,
                                                                                             tmp_path):
    """Only a trained head has rows to put in the task's order; a base model's config may name labels all the same
    (a model card's example labels), and reordering its new head would read a meaning into those names."""
    heads = []
    for order in (["negative", "positive"], ["positive", "negative"]):
        base = encoder_without_head(tiny_model_dir, tmp_path / "-".join(order))
        config = json.loads((base / "config.json").read_text())
        (base / "config.json").write_text(json.dumps({**config, "id2label": dict(enumerate(order))}))
        torch.manual_seed(0)
        heads.append(load_classifier(ModelSource(str(base)), ["negative", "positive"]).classifier.weight)
    torch.testing.assert_close(heads[0], heads[1])


def test_a_hub_model_with_only_pickle_weights_loads_only_when_allowed(tiny_model_dir, tmp_path):
    """As a folder's are (references.models.check_model_folder): a base model or a checker named by its hub id was
    loaded as transformers found it, a checker from pytorch_model.bin without allow_pickle_checkpoints."""
    snapshot = hub_snapshot(tmp_path / "hub", "someone/pickled")
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_bytes((tiny_model_dir / "config.json").read_bytes())
    torch.save(AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).state_dict(),
               snapshot / "pytorch_model.bin")
    cached = {"local_files_only": True, "cache_dir": str(tmp_path / "hub")}
    refused = (r"^{}: could not load the model from someone/pickled: it has no safetensors weights "
               r"\(model.safetensors\); pickle weights \(pytorch_model.bin\), which can run code when loaded, are "
               r"read only with allow_pickle_checkpoints true$")
    with pytest.raises(ArtifactError, match=refused.format("model_name_or_path")):
        load_classifier(ModelSource("someone/pickled", **cached), ["negative", "positive"])
    with pytest.raises(ArtifactError, match=refused.format("quality_checker_model")):  # a classifier from the hub
        load_trained_classifier(ModelSource("someone/pickled", field="quality_checker_model", **cached))
    load_classifier(ModelSource("someone/pickled", allow_pickle=True, **cached), ["negative", "positive"])
    load_trained_classifier(ModelSource("someone/pickled", allow_pickle=True, **cached))


@pytest.mark.parametrize("safetensors", [True, False], ids=["safetensors", "pickle"])
def test_a_model_saved_in_shards_loads_as_a_whole_one_does(tiny_model_dir, tmp_path, caplog, safetensors):
    """A large model's weights come in shards named by an index file (model.safetensors.index.json): a folder of
    them is checked as one with model.safetensors is, pickle shards (pytorch_model.bin.index.json) only when
    allowed."""
    whole = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    folder = tmp_path / "sharded"
    whole.save_pretrained(folder, max_shard_size="10KB")
    if not safetensors:  # transformers 5 saves safetensors only: an older model's pickle shards, written by hand
        weight_map = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
        renamed = {shard: f"pytorch_{shard.removesuffix('.safetensors')}.bin" for shard in set(weight_map.values())}
        for shard, name in renamed.items():
            torch.save(load_file(folder / shard), folder / name)
            (folder / shard).unlink()
        (folder / "model.safetensors.index.json").unlink()
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps(
            {"metadata": {}, "weight_map": {key: renamed[shard] for key, shard in weight_map.items()}}))
    assert len(list(folder.glob("*-of-*"))) > 1 and not (folder / "model.safetensors").exists()
    if not safetensors:
        with pytest.raises(ArtifactError, match=r"holds only pickle weights"):
            resolve_model(str(folder), "model_name_or_path")
    with caplog.at_level(logging.WARNING):
        source = resolve_model(str(folder), "model_name_or_path", allow_pickle=not safetensors)
    warned = f"model_name_or_path: loading pickle weights from {folder} (allow_pickle_checkpoints is on)"
    assert (warned in caplog.messages) is not safetensors
    loaded = load_trained_classifier(source)
    for name, tensor in whole.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, msg=name)


def test_a_checkpoint_of_another_model_is_told_apart_from_one_of_this_runs(tiny_model_dir, tmp_path):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    assert checkpoint_mismatch(model, tmp_path) is None  # sharded or absent: left to transformers
    own = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(own, tmp_path / "model.safetensors")
    assert checkpoint_mismatch(model, tmp_path) is None
    save_file({**own, "classifier.bias": torch.zeros(3)}, tmp_path / "model.safetensors")
    assert checkpoint_mismatch(model, tmp_path) == "its classifier.bias has shape [3], this run's model [2]"
    save_file({"decoder.weight": torch.zeros(2)}, tmp_path / "model.safetensors")
    assert checkpoint_mismatch(model, tmp_path) == \
        "none of its weights belong to this run's model (BertForSequenceClassification)"

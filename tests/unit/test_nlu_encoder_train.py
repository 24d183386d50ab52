"""The NLU encoder's training data and batches, and the fine-tuned weights read by the NumPy encoder."""

import random

import numpy as np
import pytest

from bot.nlu.encoder_train import Recipe, batches, data_hash, plain, read_manifest, read_nlu
from bot.settings import get_settings


def test_annotations_are_stripped_to_what_the_customer_wrote():
    assert plain("where is order [482913](order_number) pls") == "where is order 482913 pls"
    assert plain('copy of [inv-330127]{"entity": "invoice_number"}') == "copy of inv-330127"


def test_training_examples_come_from_data_nlu_only(tmp_path):
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: track_order\n  examples: |\n    - where is [123456](order_number)\n'
        "    - wheres my parcel\n- regex: order_number\n  examples: |\n    - \\d{6}\n")
    assert read_nlu([tmp_path / "a.yml"]) == [("where is 123456", "track_order"), ("wheres my parcel", "track_order")]


def test_every_example_is_in_one_batch_with_company():
    examples = [(f"m{i}", f"intent{i % 7}") for i in range(200)]
    recipe = Recipe(intents_per_batch=3, per_intent=4)
    epoch = batches(examples, recipe, random.Random(1))
    flat = sorted(i for batch in epoch for i in batch)
    assert flat == list(range(200))
    for batch in epoch:
        assert len({examples[i][1] for i in batch}) <= 3  # few intents, several messages of each


def test_the_data_hash_ignores_order_but_not_content():
    a = [("x", "greet"), ("y", "goodbye")]
    assert data_hash(a) == data_hash(a[::-1])
    assert data_hash(a) != data_hash([("x", "greet"), ("y", "greet")])


def test_the_numpy_encoder_reads_the_fine_tuned_weights_as_torch_does():
    model_dir = get_settings().nlu_encoder_dir
    manifest = read_manifest(model_dir)
    if not manifest:
        pytest.skip("no fine-tuned NLU encoder: make train")
    import torch
    from transformers import AutoModel, AutoTokenizer

    from bot.nlu.encoder import MiniLMEncoder

    texts = ["is there some kind of penalty if I call off my purchase early?", "where parcel", "hi"]
    ours = np.stack([e.sentence for e in MiniLMEncoder(model_dir).encode(texts)])
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        states = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        reference = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    assert (ours * reference).sum(1).min() > 0.9999
    assert manifest["data"]["hash"] == data_hash(read_nlu(sorted((get_settings().root / "data" / "nlu").glob("*.yml"))))

"""The NumPy MiniLM used inside the Rasa server must match sentence-transformers."""

import numpy as np
import pytest

from bot.nlu.encoder import MiniLMEncoder, packaged_model_dir, pool_to_spans

TEXTS = [
    "where is my order #482913",
    "I want my money back for the broken kettle!!",
    "hi",
    "how long does express shipping to Canada take, and is there a cut-off time in the afternoon?",
]


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder()


def test_sentence_embeddings_match_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(packaged_model_dir()), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    ours = np.stack([e.sentence for e in encoder.encode(TEXTS, batch_size=3)])
    cosines = (ours * reference).sum(1)
    assert cosines.min() > 0.9999, cosines


def test_similar_questions_are_closer_than_unrelated_ones(encoder):
    a, b, c = encoder.encode(["where is my parcel", "my package has not arrived", "tell me a joke"])
    assert a.sentence @ b.sentence > a.sentence @ c.sentence + 0.2


def test_token_features_line_up_with_word_spans(encoder):
    (enc,) = encoder.encode(["unsubscribe me please"])
    spans = [(0, 11), (12, 14), (15, 21)]
    features = pool_to_spans(enc, spans)
    assert features.shape == (3, 384)
    # "unsubscribe" is several wordpieces; its feature is their mean, not one of them.
    pieces = [j for j, (s, e) in enumerate(enc.offsets) if s < 11]
    assert len(pieces) > 1
    np.testing.assert_allclose(features[0], enc.tokens[pieces].mean(0), rtol=1e-5)

from __future__ import annotations

import numpy as np
import pytest

from airsoc.detection.llm.embeddings import (
    MiniLMEmbedder,
    TfidfEmbedder,
    cosine_matrix,
    default_embedder,
    minilm_available,
)
from airsoc.errors import DetectionError

PARAPHRASES = ("How do I get my money back?", "What is the process for obtaining a refund?")
UNRELATED = "The cat slept on the warm windowsill all afternoon."


@pytest.mark.skipif(not minilm_available(), reason="the embeddings extra is not installed")
def test_minilm_paraphrases_are_closer_than_unrelated_texts() -> None:
    vectors = MiniLMEmbedder.load().embed([*PARAPHRASES, UNRELATED])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert default_embedder(["x"]).name == "minilm-l6-v2"


@pytest.mark.skipif(not minilm_available(), reason="the embeddings extra is not installed")
def test_minilm_is_independent_of_batch_padding() -> None:
    model = MiniLMEmbedder.load()
    alone = model.embed([PARAPHRASES[0]])
    batched = model.embed([PARAPHRASES[0], "a much longer sentence " * 10])
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-4)


def test_tfidf_fallback_ranks_lexical_neighbours() -> None:
    emb = TfidfEmbedder().fit([*PARAPHRASES, UNRELATED])
    sims = cosine_matrix(emb.embed(["get my money back"]), emb.embed([*PARAPHRASES, UNRELATED]))
    assert int(np.argmax(sims[0])) == 0


def test_tfidf_needs_fitting_and_a_corpus() -> None:
    with pytest.raises(DetectionError, match="before fit"):
        TfidfEmbedder().embed(["x"])
    with pytest.raises(DetectionError, match="non-empty corpus"):
        TfidfEmbedder().fit(["  "])


def test_minilm_keeps_the_embeddings_of_texts_it_saw() -> None:
    from airsoc.detection.llm.embeddings import MiniLMEmbedder, minilm_available

    if not minilm_available():
        pytest.skip("the MiniLM weights are not installed")
    model = MiniLMEmbedder.load()
    texts = ["a refund within fourteen days", "backups are kept for 35 days"]
    model.clear_cache()
    first = model.embed(texts)
    # The model's own embeddings (up to the rounding of another BLAS call order)...
    assert np.allclose(first, model._embed(texts, 32), atol=1e-5)
    # ...kept: asked again, in any order and with repeats, the very same rows come back.
    again = model.embed([texts[1], texts[0], texts[1]])
    assert np.array_equal(again[0], first[1])
    assert np.array_equal(again[1], first[0])
    assert np.array_equal(again[2], first[1])

    assert texts[0] in model._cache

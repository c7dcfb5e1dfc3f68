"""Proxy recipes on real data: tokenizers, KN bigram LM, tiny transformer LM, classifiers."""

import pydoc_data.topics as T

import numpy as np
import pytest
from sklearn.datasets import load_digits

from winnow.prove.bench.tasks import _chunks, source_documents
from winnow.proxy import (
    BPETokenizer,
    ByteTokenizer,
    NgramLM,
    VectorClassifier,
    get_tokenizer,
    train_lm,
    train_ngram_lm,
    train_text_classifier,
    train_vector_classifier,
)

TOPICS = [v for _, v in sorted(T.topics.items())]


def test_gpt2_tokenizer_matches_known_ids():
    tok = BPETokenizer.gpt2()
    assert tok.vocab_size == 50257 and tok.eos_id == 50256
    assert tok.encode(["Hello world"])[0].tolist() == [15496, 995]


def test_bpe_roundtrip_and_compression():
    tok = BPETokenizer.train(TOPICS[:30], vocab_size=1024)
    text = TOPICS[40][:2000]
    ids = tok.encode([text])[0]
    assert tok.decode(ids) == text
    assert len(ids) < len(text.encode()) / 1.8  # BPE compresses real prose well beyond bytes
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(["x"], vocab_size=10)
    with pytest.raises(ValueError, match="unknown tokenizer"):
        get_tokenizer("wordpiece")


def test_ngram_lm_is_normalised_and_prefers_in_domain():
    tok = BPETokenizer.train(TOPICS, vocab_size=512)
    docs = tok.encode(TOPICS)
    lm = NgramLM(tok.vocab_size, eos=tok.eos_id).fit(docs[:60])
    for a in (0, 5, tok.eos_id, 300):
        p = np.exp(lm.log_prob(np.full(tok.vocab_size, a), np.arange(tok.vocab_size)))
        assert abs(p.sum() - 1) < 1e-9
    code = [c for _, t in source_documents("code")[:20] for c in _chunks(t, 1000)][:40]
    ppl_doc = lm.perplexity(docs[60:])
    ppl_code = lm.perplexity(tok.encode(code))
    assert ppl_doc < ppl_code / 1.5
    r = train_ngram_lm(docs[:60], docs[60:], tok.vocab_size, tok.eos_id)
    assert r.metric == "perplexity" and abs(r.value - ppl_doc) < 1e-9 and not r.higher_is_better


def test_tiny_lm_learns_and_is_deterministic():
    tok = ByteTokenizer()
    train, target = TOPICS[:20], TOPICS[20:24]
    r1 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=25, d_model=32)
    r2 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=25, d_model=32)
    assert r1.value == r2.value  # same data + seed -> same model
    assert r1.value < 100  # bytes: uniform would be 257
    r0 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=2, d_model=32)
    assert r1.value < r0.value  # training lowers target perplexity
    with pytest.raises(ValueError, match="unknown LM option"):
        train_lm(train, target, tokenizer=tok, steps=5, dmodel=3)
    with pytest.raises(ValueError, match="unknown preset"):
        train_lm(train, target, tokenizer=tok, preset="huge")


def test_vector_classifier_digits_and_dynamics():
    X, y = load_digits(return_X_y=True)
    r = train_vector_classifier(X[:1200], y[:1200], X[1200:], y[1200:], preset="mlp", seed=0)
    assert r.metric == "accuracy" and r.value > 0.9
    clf = VectorClassifier("logistic", seed=0, epochs=8).fit(X[:500], y[:500], record_dynamics=True)
    d = clf.dynamics
    assert d["correct"].shape == (8, 500) and d["el2n"].shape == (8, 500)
    assert d["correct"][-1].mean() > d["correct"][0].mean() - 1e-9 and d["correct"][-1].mean() > 0.9
    with pytest.raises(ValueError, match="unknown preset"):
        VectorClassifier("svm")


def test_text_classifier_separates_real_sources():
    docs = [c for _, t in source_documents("pydoc") for c in _chunks(t, 800)][:200]
    code = [c for _, t in source_documents("code")[:40] for c in _chunks(t, 800)][:200]
    texts, y = docs + code, np.array([0] * len(docs) + [1] * len(code))
    rng = np.random.default_rng(0)
    p = rng.permutation(len(texts))
    tr, te = p[:250], p[250:]
    r = train_text_classifier([texts[i] for i in tr], y[tr], [texts[i] for i in te], y[te])
    assert r.value > 0.95


def test_a_transformers_config_is_a_proxy():
    """Issue 14: any transformers causal-LM config (here GPT-2, built locally with random weights:
    nothing downloads) trains through the same fixed-compute recipe as the tiny LM."""
    from winnow.proxy.lm import describe_recipe

    tok = ByteTokenizer()
    train, target = TOPICS[:20], TOPICS[20:24]
    hf = {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2}
    r1 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=25, hf_config=hf)
    r2 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=25, hf_config=hf)
    r0 = train_lm(train, target, tokenizer=tok, preset="cpu-tiny", seed=3, steps=2, hf_config=hf)
    assert r1.value == r2.value and r1.value < r0.value and r1.value < 150  # uniform would be 257
    d = describe_recipe("cpu-tiny", vocab_size=tok.vocab_size, hf_config=hf)
    assert d["architecture"] == "transformers:gpt2" and d["layers"] == 2 and d["width"] == 32
    import transformers

    cfg = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=tok.vocab_size, n_positions=65)
    assert d["params"] == sum(p.numel() for p in transformers.GPT2LMHeadModel(cfg).parameters())


def test_bench_proxy_spec_takes_a_transformers_config():
    from winnow.prove.bench.tasks import parse_proxies

    hf = {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2}
    (p,) = parse_proxies({"preset": "cpu-tiny", "tokens": 4096, "hf_config": hf, "label": "gpt2"})
    assert p["label"] == "gpt2" and p["options"]["hf_config"] == hf
    with pytest.raises(ValueError, match="hf_config"):
        parse_proxies({"preset": "cpu-tiny", "hf_cfg": hf})

"""Text utilities: word tokenisers, n-gram hashing and hashed features, vectorised over Arrow batches.

Each tokeniser is the one its users must match (a reference implementation, a saved model,
published signatures), so they intentionally differ; each lives here once:

* ``byte_tokens.tokenize(mode="whitespace")`` — runs of non-whitespace bytes, ASCII-lower-cased
  (fastText's): quality-model features.
* ``byte_tokens.tokenize(mode="words")`` — runs of ASCII letters/digits/``_`` and non-ASCII bytes;
  byte offsets index the original text: decontamination (it reports spans).
* ``spacy_words.words`` — spaCy's blank-English tokens (datatrove's word tokenizer): the Gopher,
  C4 and FineWeb statistics.
* ``normalized_words.word_tokens`` / ``word_token_hashes`` (the same words; the second is the fast
  compiled path) — NFKC, Unicode-lower-cased, punctuation and symbols → space, digit runs → ``0``
  (FineWeb's dedup normalisation): exact, MinHash and semantic dedup.
* ``features.wordpunct`` — nltk's WordPunct regex ``\\w+|[^\\w\\s]+``, lower-cased: DSIR and
  n-gram importance selection (byte-identical buckets to the reference ``data-selection``).

N-gram hashes: ``byte_tokens.ngram_hashes`` (position-free polynomial hash of token hashes),
``normalized_words.ngram_hashes`` and its compiled twin ``core.text.kernels.ngram_shingles``
(MinHash shingles; a short document is one padded shingle), ``spacy_words.iter_ngram_keys``
(repetition keys with the document mixed in). Hashed features: :mod:`winnow.core.text.features`.
Every hash constant and both 64-bit finalisers: :mod:`winnow.core.text.hashing`.

Submodules are imported on use (``from winnow.core.text import spacy_words``): importing this
package loads nothing.
"""

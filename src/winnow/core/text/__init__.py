"""Text utilities: word tokenisers, n-gram hashing and hashed features, vectorised over Arrow batches.

Each tokeniser below is the one a step must match (a reference implementation, a saved model,
or published signatures), so they intentionally differ; each lives here once:

=====================================  ===============================================  ===========================
tokeniser                              words are                                         used by
=====================================  ===============================================  ===========================
``byte_tokens.tokenize("whitespace")`` runs of non-whitespace bytes, ASCII-lowercased    quality models (fastText)
``byte_tokens.tokenize("words")``      runs of ASCII alnum/``_``/non-ASCII bytes; byte  decontamination (spans)
                                       offsets index the original text
``spacy_words.words``                  spaCy's blank-English tokens (datatrove's)        Gopher, C4, FineWeb rules
``normalized_words.word_tokens`` /     NFKC, lower-cased, punctuation → space,          exact/MinHash/semantic
``normalized_words.word_token_hashes`` digits → 0, whitespace-split (FineWeb dedup)      dedup
``features.wordpunct``                 nltk WordPunct ``\\w+|[^\\w\\s]+``, lower-cased    DSIR, n-gram importance
=====================================  ===============================================  ===========================

N-gram hashes: ``byte_tokens.ngram_hashes`` (position-free polynomial hash of token hashes),
``normalized_words.ngram_hashes`` / the compiled ``ngram_shingles`` (MinHash shingles, padded short
documents), ``spacy_words.iter_ngram_keys`` (repetition keys with the document mixed in). Hashed
features: :mod:`winnow.core.text.features`. Every hash constant and both 64-bit finalisers are
in :mod:`winnow.core.text.hashing`.

Submodules are imported on use (``from winnow.core.text import spacy_words``), so importing this
package costs nothing.
"""

"""A fifth real dedup corpus — more manuals — fixed before its first measurement (issue 20).

Corpus 4 (build_corpus4.py) held only 297 pairs at J ≥ 0.8, too few to tell 0.97 from 0.95. This
one adds sources none of corpora 1–4 use, chosen and committed before it was measured, with no
MinHash or clustering setting changed since corpus 4 (setup.sh unpacks them into
``benchmarks/_work/dedup/root5``):

* the Erlang/OTP reference manuals (erlang-doc: one HTML page per module and guide);
* the GnuCash guide and help (gnucash-docs) in English, German, Italian, Portuguese and Japanese,
  where untranslated passages stay English.

    PYTHONPATH=src python benchmarks/dedup/build_corpus5.py --out benchmarks/_work/dedup/corpus5
"""

from __future__ import annotations

import os

from build_corpus4 import HERE, main

ROOT = os.path.join(HERE, "..", "_work", "dedup", "root5")
SOURCES = [
    ("usr/share/doc/erlang-doc/**/*.html", "erlang"),
    ("usr/share/doc/gnucash-docs/**/*.html", "gnucash"),
]

if __name__ == "__main__":
    main(__doc__, ROOT, SOURCES)

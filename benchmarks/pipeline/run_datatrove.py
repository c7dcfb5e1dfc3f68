"""datatrove's equivalent of winnow.yaml (executed inside benchmarks/.venv-filters, one task, one worker).

    benchmarks/.venv-filters/bin/python benchmarks/pipeline/run_datatrove.py CORPUS_DIR OUT_DIR LID176_FTZ

The FineWeb way of running it: reader → language → Gopher repetition → Gopher quality → C4 →
FineWeb → PII → writer (filtered/); exact dedup in 3 stages (signature, find, filter); MinHash in
its 4 stages (signature, buckets, cluster, filter) → writer (final/). Every filter has an exclusion
writer (excluded/<step>/), which is what the benchmark compares per document with winnow's rejects.
The language model is the same ``lid.176.ftz`` winnow uses (datatrove would download lid.176.bin).
There is no decontamination step: datatrove's needs lighteval and a download of the task.
"""

import os
import sys

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.lid import FT176LID


def text_of(doc: Document) -> str:
    return doc.text


def main():
    corpus, out, ftz = sys.argv[1], sys.argv[2], sys.argv[3]
    FT176LID.MODEL_URL = os.path.abspath(ftz)  # "downloaded" (copied) from the offline .ftz, not the web

    def excl(name):
        return JsonlWriter(f"{out}/excluded/{name}", output_filename="${rank}.jsonl", compression=None)

    filters = [
        LanguageFilter(languages=["en"], language_threshold=0.65, exclusion_writer=excl("language")),
        GopherRepetitionFilter(exclusion_writer=excl("gopher_repetition")),
        GopherQualityFilter(exclusion_writer=excl("gopher_quality")),
        C4QualityFilter(exclusion_writer=excl("c4")),
        FineWebQualityFilter(char_duplicates_ratio=0.1, exclusion_writer=excl("fineweb_quality")),
        PIIFormatter(),
    ]
    exact = ExactDedupConfig(content_getter=text_of)
    mh = MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5)
    logs = f"{out}/logs"

    def run(name, pipeline, tasks=1):
        LocalPipelineExecutor(pipeline, tasks=tasks, workers=1, logging_dir=f"{logs}/{name}").run()

    run("filter", [JsonlReader(corpus, glob_pattern="*.jsonl"), *filters, JsonlWriter(f"{out}/filtered")])
    run("exact_sig", [JsonlReader(f"{out}/filtered"), ExactDedupSignature(f"{out}/exact/sigs", exact)])
    run("exact_find", [ExactFindDedups(f"{out}/exact/sigs", f"{out}/exact/dups", exact)])
    run(
        "exact_filter",
        [
            JsonlReader(f"{out}/filtered"),
            ExactDedupFilter(f"{out}/exact/dups", exact, exclusion_writer=excl("exact_dedup")),
            JsonlWriter(f"{out}/exact_kept"),
        ],
    )
    run("mh_sig", [JsonlReader(f"{out}/exact_kept"), MinhashDedupSignature(f"{out}/mh/sigs", config=mh)])
    run("mh_buckets", [MinhashDedupBuckets(f"{out}/mh/sigs", f"{out}/mh/buckets", config=mh)], tasks=mh.num_buckets)
    run("mh_cluster", [MinhashDedupCluster(f"{out}/mh/buckets", f"{out}/mh/remove", config=mh)])
    run(
        "mh_filter",
        [
            JsonlReader(f"{out}/exact_kept"),
            MinhashDedupFilter(f"{out}/mh/remove", exclusion_writer=excl("minhash_dedup")),
            JsonlWriter(f"{out}/final"),
        ],
    )


if __name__ == "__main__":
    main()

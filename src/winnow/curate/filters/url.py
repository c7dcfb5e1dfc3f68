"""URL block lists: drop rows whose URL's host (or a parent domain) is blocked, or whose URL contains
a blocked word (as a token of the URL) or a blocked sub-word (anywhere in the URL).

Lists come inline or from files with one entry per line (``#`` starts a comment), e.g. the UT1
blacklists datatrove and FineWeb use (``domains`` files) or your own.

Example (YAML): ``- url_filter: {blocked_domains_file: lists/adult_domains.txt, blocked_words: [casino]}``

    >>> import pyarrow as pa
    >>> s = UrlFilter(blocked_domains=["example.com"], blocked_words=["casino"])
    >>> s.setup()
    >>> t = s.annotate(pa.table({"url": ["https://www.example.com/a", "http://news.example.org/casino-night",
    ...                                  "https://sub.example.com:8080/x", "https://example.org/ok", None]}))
    >>> s.decide(t).to_pylist()
    ['url_filter:blocked_domain', 'url_filter:blocked_word', 'url_filter:blocked_domain', None, None]
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, reasons_from_masks
from winnow.curate.filters._base import set_columns

_HOST = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//(?:[^/?#@]*@)?(?P<host>\[[^\]]*\]|[^/?#:]+)"


def read_list(path: str) -> list[str]:
    """Entries of a block-list file: one per line, blank lines and ``#`` comments skipped, lower-cased."""
    import fsspec

    try:
        with fsspec.open(path, "rt", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"url_filter: block-list file not found: {path!r}") from e
    return [x.strip().lower() for x in lines if x.strip() and not x.lstrip().startswith("#")]


@register_step
class UrlFilter(MapStep):
    """Drop rows by their URL (column ``url_column``, default ``url``).

    * ``blocked_domains`` / ``blocked_domains_file``: a host is blocked when it or any parent domain
      is listed (``ads.example.com`` is blocked by ``example.com``); ``www.`` is ignored.
    * ``blocked_words`` / ``blocked_words_file``: whole tokens of the URL (split on non-alphanumerics).
    * ``blocked_subwords`` / ``blocked_subwords_file``: substrings anywhere in the lower-cased URL.

    Rows without a URL (missing column or null) are kept. Statistic column: ``url_domain``
    (the lower-cased host). Reasons: ``url_filter:blocked_domain``, ``url_filter:blocked_word``,
    ``url_filter:blocked_subword``.
    """

    name = "url_filter"
    extra_stats = ("url_domain",)
    url_column: str = "url"
    blocked_domains: list[str] = Field(default=[])
    blocked_domains_file: str | None = None
    blocked_words: list[str] = Field(default=[])
    blocked_words_file: str | None = None
    blocked_subwords: list[str] = Field(default=[])
    blocked_subwords_file: str | None = None
    _sets: dict = PrivateAttr(default=None)

    def setup(self) -> None:
        if self._sets is not None:
            return
        doms = [d.lower().strip().lstrip(".") for d in self.blocked_domains]
        words = [w.lower().strip() for w in self.blocked_words]
        subs = [w.lower() for w in self.blocked_subwords if w]
        if self.blocked_domains_file:
            doms += read_list(self.blocked_domains_file)
        if self.blocked_words_file:
            words += read_list(self.blocked_words_file)
        if self.blocked_subwords_file:
            subs += read_list(self.blocked_subwords_file)
        doms = [d[4:] if d.startswith("www.") else d for d in doms]
        self._sets = {
            "domains": pa.array(sorted(set(doms)), pa.string()),
            "words": pa.array(sorted(set(words)), pa.string()),
            "subwords": sorted(set(subs)),
        }

    def _url(self, table: pa.Table) -> pa.Array:
        if self.url_column not in table.column_names:
            return pa.nulls(table.num_rows, pa.string())
        col = table.column(self.url_column)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        return pc.utf8_lower(pc.cast(col, pa.string()))

    def annotate(self, table: pa.Table) -> pa.Table:
        url = self._url(table)
        # scheme-less URLs ("example.com/path") are parsed as if they had "//"
        norm = pc.if_else(
            pc.match_substring_regex(url, r"^(?:[a-z][a-z0-9+.\-]*:)?//"),
            url,
            pc.binary_join_element_wise("//", url, ""),
        )
        host = pc.struct_field(pc.extract_regex(norm, _HOST), [0])
        host = pc.utf8_rtrim(host, characters=".")
        host = pc.replace_substring_regex(host, r"^www\.", "")
        return set_columns(table, {"url_domain": host})

    def decide(self, table: pa.Table) -> pa.Array:
        self.setup()
        n = table.num_rows
        host = table.column("url_domain")
        host = host.combine_chunks() if isinstance(host, pa.ChunkedArray) else host
        rules = []
        if len(self._sets["domains"]):
            blocked = pc.fill_null(pc.is_in(host, value_set=self._sets["domains"]), False)
            h = host
            for _ in range(8):  # parent domains: a.b.example.com -> b.example.com -> example.com
                h = pc.if_else(
                    pc.match_substring(h, "."),
                    pc.replace_substring_regex(h, r"^[^.]*\.", ""),
                    pa.scalar(None, pa.string()),
                )
                blocked = pc.or_(blocked, pc.fill_null(pc.is_in(h, value_set=self._sets["domains"]), False))
            rules.append((blocked, "url_filter:blocked_domain"))
        url = self._url(table)
        if len(self._sets["words"]):
            toks = pc.split_pattern_regex(pc.fill_null(url, ""), r"[^\pL\pN]+")
            vals = pc.list_flatten(toks)
            hit = pc.is_in(vals, value_set=self._sets["words"])
            parents = pc.list_parent_indices(toks).filter(hit).to_numpy(zero_copy_only=False)
            import numpy as np

            mask = np.zeros(n, bool)
            mask[parents] = True
            rules.append((mask, "url_filter:blocked_word"))
        if self._sets["subwords"]:
            pat = "|".join("".join("\\" + c if not c.isalnum() else c for c in w) for w in self._sets["subwords"])
            rules.append((pc.fill_null(pc.match_substring_regex(url, pat), False), "url_filter:blocked_subword"))
        return reasons_from_masks(n, rules)

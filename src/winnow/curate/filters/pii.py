"""PII redaction: e-mail addresses, IP addresses (v4 and v6) and phone numbers, replaced by
placeholders with RE2 regexes over the whole Arrow batch; the number of redactions per row is
recorded in ``pii_emails``, ``pii_ips`` and ``pii_phones``.

Example (YAML): ``- pii: {email: true, ip: true, phone: true}``

    >>> import pyarrow as pa
    >>> s = Pii()
    >>> t = s.annotate(pa.table({"text": ["mail jane.doe@example.org or call +1 (555) 010-4477 from 192.0.2.17"]}))
    >>> t.column("text")[0].as_py()
    'mail <EMAIL> or call <PHONE_NUMBER> from <IP_ADDRESS>'
    >>> t.column("pii_emails")[0].as_py(), t.column("pii_ips")[0].as_py(), t.column("pii_phones")[0].as_py()
    (1, 1, 1)
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from winnow.core.pipeline.registry import register_step
from winnow.core.pipeline.step import MapStep, Rule
from winnow.curate.filters._base import set_columns

#: local@domain.tld (RFC 5322 dot-atom subset as used in practice)
EMAIL = r"\b[A-Za-z0-9][A-Za-z0-9._%+\-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
_OCT = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: dotted-quad IPv4, not part of a longer dotted number (version strings such as 1.2.3.4.5)
IPV4 = rf"(^|[^0-9.])({_OCT}\.{_OCT}\.{_OCT}\.{_OCT})($|[^0-9.]|\.$|\.[^0-9])"
_H = r"[0-9A-Fa-f]{1,4}"
#: full or ``::``-compressed IPv6
IPV6 = (
    rf"(^|[^0-9A-Za-z:.])((?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:(?:{_H}(?::{_H}){{0,5}})?"
    rf"|::(?:{_H}(?::{_H}){{0,6}}))($|[^0-9A-Za-z:])"
)
#: a dotted quad named as a version ("version 1.2.3.4", "v2.0.1.3", "==1.2.3.4", "release 10.0.0.1"):
#: its dots are masked before IPv4 detection (RE2 has no look-behind), then restored
VERSIONED_QUAD = (
    r"(?i)((?:\b(?:versions?|ver|vers|release[sd]?|rel|rev|revision|build|firmware|kernel|"
    r"update[sd]?|patch(?:ed)?|upgraded?(?: to)?|downgraded?(?: to)?|tag|tagged|v)\.?[ \t]*"
    r"(?:(?:[:=#]|is|was|of)[ \t]*)?"
    r"|[=<>~!]=[ \t]*)v?)"
    rf"({_OCT})\.({_OCT})\.({_OCT})\.({_OCT})"
)
_MASK = "\ue000"  # a private-use character stands in for the masked dots
#: international (+CC ...) or North-American style numbers with separators
PHONE = (
    r"(?:\+[1-9][0-9]{0,2}[ .\-]?(?:\(0?[0-9]{1,4}\)[ .\-]?)?[0-9]{1,4}(?:[ .\-]?[0-9]{2,4}){1,4}"
    r"|\([0-9]{3}\)[ .\-]?[0-9]{3}[ .\-][0-9]{4}"
    r"|\b[0-9]{3}[.\-][0-9]{3}[.\-][0-9]{4}\b"
    r"|\b0[0-9]{2,4}[ /\-][0-9]{3,4}[ \-]?[0-9]{3,4}\b)"
)


@register_step
class Pii(MapStep):
    """Redact e-mails, IPs and phone numbers in ``text`` with placeholders and count them.

    Options: ``email``/``ip``/``phone`` switch each kind on; the placeholders are configurable
    (``<EMAIL>``, ``<IP_ADDRESS>``, ``<PHONE_NUMBER>`` by default, as in the BigScience/StarCoder
    PII pipelines). ``max_redactions`` (default ``None``: never drop) drops rows with more redactions
    than that, with reason ``pii:max_redactions``. Phone numbers must carry a ``+`` country code or
    a grouped national format; bare digit runs (ids, timestamps) are left alone.

    >>> Pii(max_redactions=3).thresholds()
    {'pii_total': (None, 3)}
    """

    name = "pii"
    rules = (Rule("pii_total", "max_redactions", "max"),)
    extra_stats = ("pii_emails", "pii_ips", "pii_phones")
    email: bool = True
    ip: bool = True
    phone: bool = True
    email_placeholder: str = "<EMAIL>"
    ip_placeholder: str = "<IP_ADDRESS>"
    phone_placeholder: str = "<PHONE_NUMBER>"
    max_redactions: int | None = Field(None, ge=0)

    @staticmethod
    def _redact(text: pa.Array, pattern: str, repl: str, group: bool = False) -> tuple[pa.Array, pa.Array]:
        has = pc.fill_null(pc.match_substring_regex(text, pattern), False)
        if not pc.any(has).as_py():
            return text, pa.array([0] * len(text), pa.int64())
        # counting and replacing on the rows that contain a match only
        idx = pc.indices_nonzero(has)
        sub = text.take(idx)
        n = pc.cast(pc.count_substring_regex(sub, pattern), pa.int64())
        if group:  # the pattern consumes one boundary character on each side; keep them
            rw = r"\1" + repl.replace("\\", "\\\\") + r"\3"
            new = pc.replace_substring_regex(sub, pattern, rw)
            # a second pass catches adjacent matches that shared a boundary character
            n2 = pc.cast(pc.count_substring_regex(new, pattern), pa.int64())
            new = pc.replace_substring_regex(new, pattern, rw)
            n = pc.add(n, n2)
        else:
            new = pc.replace_substring_regex(sub, pattern, repl.replace("\\", "\\\\"))
        counts = pc.replace_with_mask(pa.array([0] * len(text), pa.int64()), has, n)
        return pc.replace_with_mask(text, has, pc.cast(new, text.type)), counts

    def annotate(self, table: pa.Table) -> pa.Table:
        col = table.column("text")
        text = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        zero = pa.array([0] * len(text), pa.int64())
        ne = ni = nph = zero
        if self.email:
            text, ne = self._redact(text, EMAIL, self.email_placeholder)
        if self.ip:
            text, masked = _mask_versions(text)
            text, n4 = self._redact(text, IPV4, self.ip_placeholder, group=True)
            text, n6 = self._redact(text, IPV6, self.ip_placeholder, group=True)
            text = _unmask_versions(text, masked)
            ni = pc.add(n4, n6)
        if self.phone:
            text, nph = self._redact(text, PHONE, self.phone_placeholder)
        total = pc.add(pc.add(ne, ni), nph)
        return set_columns(
            table, {"text": text, "pii_emails": ne, "pii_ips": ni, "pii_phones": nph, "pii_total": total}
        )


def _mask_versions(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Mask the dots of version-named dotted quads so IPv4 detection skips them.

    Rows that already hold the mask character are left alone (and may then be redacted).
    """
    cand = pc.and_(
        pc.fill_null(pc.match_substring_regex(text, VERSIONED_QUAD), False),
        pc.invert(pc.fill_null(pc.match_substring(text, _MASK), False)),
    )
    if not pc.any(cand).as_py():
        return text, cand
    idx = pc.indices_nonzero(cand)
    sub = pc.replace_substring_regex(text.take(idx), VERSIONED_QUAD, rf"\1\2{_MASK}\3{_MASK}\4{_MASK}\5")
    return pc.replace_with_mask(text, cand, pc.cast(sub, text.type)), cand


def _unmask_versions(text: pa.Array, masked: pa.Array) -> pa.Array:
    if not pc.any(masked).as_py():
        return text
    idx = pc.indices_nonzero(masked)
    sub = pc.replace_substring(text.take(idx), _MASK, ".")
    return pc.replace_with_mask(text, masked, pc.cast(sub, text.type))

"""spaCy-like English words and the repetition statistics of the heuristic filters (Gopher, C4,
FineWeb), vectorised (Arrow compute + numpy, no per-word Python).

* :func:`normalize_newlines` maps every line break Python's ``str.splitlines`` knows to ``\\n``.
* :func:`words` tokenises a batch of texts the way spaCy's blank English tokenizer does (the word
  tokenizer datatrove uses for English), closely enough for document-level statistics: whitespace
  chunks, leading/trailing punctuation split off one character at a time (``..``+ and ``…`` stay
  whole), clitics (``'s``, ``n't``, ...) split, hyphens / slashes / colons between letters split.
* :func:`ngram_keys` hashes word n-grams to uint64 (document index mixed in) for repetition statistics.
* :func:`first_occurrence` and :func:`greedy_skip_chain` compute duplicate statistics by sorting.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from winnow.core.text.hashing import GOLDEN, NGRAM_STEP, splitmix64
from winnow.core.text.whitespace import split_whitespace

# Line breaks of Python's str.splitlines (\r\n first so it becomes one break).
_LINEBREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"

# spaCy English prefix/suffix punctuation (punct + quotes + currency + a few symbols).
_PUNCT_QUOTES = ",:;!?¿¡()[]{}<>_#*&。？！，、；：～·।،۔؛٪'\"”“`‘´’‚„»«「」『』（）〔〕【】《》〈〉⟦⟧…"
_PRE_SET = _PUNCT_QUOTES + "$£€¥฿§%=—–+"
_SUF_SET = _PUNCT_QUOTES + "—–."
#: abbreviations spaCy's English exceptions keep with their final "."
_ABBREV = (
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Inc",
    "Ltd",
    "Co",
    "Corp",
    "Jr",
    "Sr",
    "St",
    "Mt",
    "vs",
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
    "Gen",
    "Gov",
    "Rep",
    "Sen",
    "Rev",
    "Prof",
    "Adm",
    "Bros",
    "Capt",
    "Col",
    "Lt",
    "Sgt",
    "Messrs",
    "Calif",
    "Conn",
    "Fla",
    "Ill",
    "Mass",
    "Mich",
    "Minn",
    "Wash",
    "Ala",
    "Ariz",
    "Ark",
    "Colo",
    "Del",
    "Ga",
    "Ind",
    "Kan",
    "Ky",
    "La",
    "Md",
    "Miss",
    "Mo",
    "Mont",
    "Neb",
    "Nev",
    "Okla",
    "Ore",
    "Pa",
    "Tenn",
    "Va",
    "Wis",
    "a.m",
    "p.m",
    "Ph.D",
    "e.g",
    "i.e",
)
_KEEP_DOT = (
    r"(?:^|[^\p{Lu}])\p{Lu}$|^\pL$|^(?:\pL\.)+\pL$|^(?:" + "|".join(a.replace(".", r"\.") for a in _ABBREV) + ")$"
)
#: whole chunks spaCy keeps as one token (tokenizer exceptions: common emoticons)
_EMOTICONS = (
    ":)",
    ":(",
    "):",
    "(:",
    ":-)",
    ":-(",
    ";)",
    ";-)",
    ":D",
    ":P",
    ":p",
    "=)",
    "(=",
    ":/",
    ":'(",
    "<3",
    ":]",
    ":[",
    ":o",
    ":O",
    "xD",
    "XD",
    "^_^",
    "-_-",
    "o.O",
    "O.o",
    ":*",
    ":|",
    ":0",
    "=(",
    "=[",
    "=]",
)
_CLITIC_END = r"(n't|N'T|n’t|'s|'S|’s|’S|'re|'ll|'ve|'d|'m|’re|’ll|’ve|’d|’m)$"

# Characters datatrove-style "symbol words" consist of: ASCII punctuation, control characters and
# common typographic / CJK punctuation. A token made only of these is not a word for Gopher stats.
_SYMBOL_CLASS = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}!-/:-@\[-`{-~"
    r"—”“„’‘«»…–、。，；：？！（）《》〈〉「」【】％１．～∶´►]"
)
SYMBOL_TOKEN = rf"^{_SYMBOL_CLASS}+$"


def as_text(table: pa.Table, column: str = "text") -> pa.Array:
    """The text column as one contiguous ``string`` array (nulls as ""); batches stay under 2 GiB."""
    col = table.column(column)
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.fill_null(arr, "")


def normalize_newlines(text: pa.Array) -> pa.Array:
    """Replace every ``str.splitlines`` line break with ``\\n`` (only where one occurs)."""
    has = pc.match_substring_regex(text, _LINEBREAKS)
    if not pc.any(has).as_py():
        return text
    return pc.if_else(has, pc.replace_substring_regex(text, _LINEBREAKS, "\n"), text)


def flat(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Flatten a list array: (values, parent row index as int64 numpy)."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    vals = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return vals, parents


def per_row(values: np.ndarray, parents: np.ndarray, n: int, how: str = "sum") -> np.ndarray:
    """Aggregate ``values`` by ``parents`` into ``n`` rows (sum / max / any)."""
    if how == "sum":
        return np.bincount(parents, weights=values, minlength=n)
    if how == "count":
        return np.bincount(parents, minlength=n).astype(np.int64)
    out = np.zeros(n, dtype=values.dtype) if how != "any" else np.zeros(n, dtype=bool)
    if how == "max":
        np.maximum.at(out, parents, values)
    elif how == "any":
        out[parents[values.astype(bool)]] = True
    return out


def _pieces(ch: pa.Array, pre_b: np.ndarray, suf_b: np.ndarray) -> pa.Array:
    """Cut each chunk of a contiguous string array into (prefix, middle, suffix) by byte counts, zero-copy."""
    offs = np.frombuffer(ch.buffers()[1], dtype=np.int32)[ch.offset : ch.offset + len(ch) + 1].astype(np.int64)
    s, e = offs[:-1], offs[1:]
    po = np.empty(3 * len(ch) + 1, np.int64)
    po[0:-1:3] = s
    po[1:-1:3] = s + pre_b
    po[2:-1:3] = e - suf_b
    po[-1] = offs[-1]
    return pa.StringArray.from_buffers(3 * len(ch), pa.py_buffer(po.astype(np.int32)), ch.buffers()[2])


def _apply(arr: pa.Array, mask: np.ndarray, fn) -> pa.Array:
    """Replace ``arr[mask]`` by ``fn(arr[mask])`` (vectorised; nothing done when the mask is empty)."""
    if not mask.any():
        return arr
    m = pa.array(mask)
    return pc.replace_with_mask(arr, m, fn(arr.filter(m)))


def words(text: pa.Array) -> pa.Array:
    """spaCy-like English word tokens per text, as a ``list<string>`` array (see module doc).

    Whitespace chunks made of ASCII letters and digits and non-ASCII characters no rule looks at
    (letters of any script), optionally followed by one ``, ; ! ?`` or (after a lower-case ASCII
    word that is not an abbreviation) ``.``, are most chunks of text;
    their tokens are known from their bytes (:func:`_simple_chunks`, compiled). Only the other
    chunks go through the rules of :func:`_chunk_tokens` (Arrow kernels); one compiled pass puts
    both back in order (:func:`_merge_tokens`)."""
    ch, parents = whitespace_chunks(text)
    return words_of_chunks(ch, parents, len(text))


def table_words(table: pa.Table, column: str = "text") -> pa.Array:
    """:func:`words` of ``table[column]`` (as :func:`as_text`), computed once per batch: the
    filters of a stage that count words (Gopher repetition and quality, FineWeb) share one
    token pass (:func:`winnow.core.shared_rows.derived`; the rows a filter drops are dropped
    from the shared words too).

    >>> table_words(pa.table({"text": ["Hello, world!"]})).to_pylist()
    [['Hello', ',', 'world', '!']]
    """
    from winnow.core.shared_rows import derived

    return derived(table, column, "spacy_words", lambda: words(as_text(table, column)))


def whitespace_chunks(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Non-empty whitespace-separated chunks of each text and the row of each."""
    ch, parents = flat(split_whitespace(text))
    nonempty = pc.not_equal(ch, "")
    ch = ch.filter(nonempty)
    parents = parents[nonempty.to_numpy(zero_copy_only=False)]
    if len(ch) and (ch.offset or ch.buffers()[1] is None or len(ch.buffers()[2] or b"") > 2**31 - 1):
        ch = pa.concat_arrays([ch])
    return ch, parents


def words_of_chunks(ch: pa.Array, parents: np.ndarray, n: int) -> pa.Array:
    """:func:`words` from the chunks of :func:`whitespace_chunks` (``n`` texts)."""
    if len(ch) == 0:
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))
    from winnow.core.text.byte_tokens import string_buffers

    data, offs = string_buffers(ch)
    kind = _simple_chunks(data, offs)
    hard = np.flatnonzero(kind == 0)
    if len(hard):
        # a chunk's tokens depend on the chunk alone, and hard chunks repeat (">>>", "a.m.",
        # "don't", "--"): the rules run once per distinct one (a quarter of them on Python's docs)
        enc = pc.dictionary_encode(ch.take(pa.array(hard)))
        sv, schunk = _chunk_tokens(enc.dictionary)
        sdata, soffs = string_buffers(sv)
        ucount = np.bincount(schunk, minlength=len(enc.dictionary))
        ustart = np.zeros(len(ucount) + 1, np.int64)
        np.cumsum(ucount, out=ustart[1:])
        which = np.asarray(enc.indices.to_numpy(), np.int64)
        scount, sfirst = ucount[which], ustart[which]
        hard_bytes = int((soffs[ustart[which + 1]] - soffs[sfirst]).sum())  # their tokens' bytes, per occurrence
    else:
        sdata, soffs, hard_bytes = np.zeros(0, np.uint8), np.zeros(1, np.int64), 0
        scount = sfirst = np.zeros(0, np.int64)
    n_tok = ((kind & 1) + ((kind >> 1) & 1) + ((kind >> 2) & 1)).astype(np.int64)
    n_tok[hard] = scount
    total = int(n_tok.sum())
    out_data = np.empty(len(data) + hard_bytes, np.uint8)  # simple chunks keep all bytes; others: theirs
    out_offs = np.empty(total + 1, np.int64)
    used = _merge_tokens(data, offs, kind, sdata, soffs, sfirst, scount, out_data, out_offs)
    otype = np.int32 if used < 2**31 else np.int64
    vals = (pa.StringArray if otype is np.int32 else pa.LargeStringArray).from_buffers(
        total, pa.py_buffer(out_offs.astype(otype)), pa.py_buffer(out_data[:used])
    )
    if otype is np.int64:
        vals = vals.cast(pa.string()) if used < 2**31 else vals
    counts = np.bincount(parents, weights=n_tok, minlength=n).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32 if total < 2**31 else np.int64)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), vals)


def _special_table() -> np.ndarray:
    """Code points below U+10000 that any rule of :func:`_chunk_tokens` looks at (non-ASCII
    prefix / suffix / infix punctuation); every non-ASCII code point outside is a plain letter here."""
    tab = np.zeros(1 << 16, np.bool_)
    for c in _PRE_SET + _SUF_SET + "…–—’":
        if ord(c) >= 128:
            tab[ord(c)] = True
    return tab


_SPECIAL = _special_table()


def _ascii_table(chars: str) -> np.ndarray:
    tab = np.zeros(128, np.bool_)
    for c in chars:
        if ord(c) < 128:
            tab[ord(c)] = True
    return tab


_PRE_ASCII = _ascii_table(_PRE_SET)
_SUF_ASCII = _ascii_table(_SUF_SET.replace(".", ""))


@njit(cache=True, nogil=True)
def _simple_kinds(data, offs, special, pre_tab, suf_tab, out):
    for i in range(len(offs) - 1):
        s, e = offs[i], offs[i + 1]
        flags = 1
        if e - s >= 3 and data[s] < 128 and pre_tab[data[s]]:  # one prefix character, then >= 2 more bytes
            flags |= 4
            s += 1
        j = s
        lower = True  # ASCII lower-case letters and digits only
        while j < e:
            c = data[j]
            if 97 <= c <= 122 or 48 <= c <= 57:
                j += 1
            elif 65 <= c <= 90:
                lower = False
                j += 1
            elif c >= 0xC0:  # a multi-byte character: plain unless a rule looks at it
                lower = False
                n = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
                if j + n > e:  # cut short (invalid UTF-8): the rules decide, no byte past the chunk is read
                    break
                if n == 2:
                    cp = ((c & 0x1F) << 6) | (data[j + 1] & 0x3F)
                elif n == 3:
                    cp = ((c & 0x0F) << 12) | ((data[j + 1] & 0x3F) << 6) | (data[j + 2] & 0x3F)
                else:
                    cp = 0x10000
                if cp < 0x10000 and special[cp]:
                    break
                j += n
            else:
                break
        mid = j - s
        if mid == 0 or (flags & 4 and mid < 2):  # (a prefix + 1 character may be an emoticon: ":D")
            out[i] = 0
            continue
        # "cannot" / "Cannot" split in two
        if mid == 6 and (data[s] == 99 or data[s] == 67) and data[s + 1] == 97 and data[s + 2] == 110:
            if data[s + 3] == 110 and data[s + 4] == 111 and data[s + 5] == 116:
                out[i] = 0
                continue
        if j == e:
            out[i] = flags
        elif j == e - 1:
            c = data[j]
            if c < 128 and suf_tab[c]:
                out[i] = flags | 2
            elif c == 46 and lower and mid >= 2 and not (mid == 2 and data[s] == 118 and data[s + 1] == 115):
                out[i] = flags | 2  # "." after a lower-case ASCII word (not the abbreviation "vs")
            else:
                out[i] = 0
        else:
            out[i] = 0


def _simple_chunks(data: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """Per whitespace chunk, flags: 1 = a word of ASCII letters/digits and non-ASCII characters no
    rule looks at, | 2 = one trailing punctuation token, | 4 = one leading punctuation token;
    0 = needs the full rules."""
    out = np.zeros(len(offs) - 1, np.int8)
    _simple_kinds(data, offs, _SPECIAL, _PRE_ASCII, _SUF_ASCII, out)
    return out


@njit(cache=True, nogil=True)
def _merge_tokens(data, offs, kind, sdata, soffs, sfirst, scount, out_data, out_offs):
    """Tokens of every chunk in order: a simple chunk's from its bytes and ``kind`` flags, the
    ``h``-th hard chunk's are tokens ``sfirst[h]`` to ``sfirst[h] + scount[h]`` of ``sdata``."""
    w = 0  # bytes written
    t = 0  # tokens written
    h = 0  # next hard chunk
    out_offs[0] = 0
    for i in range(len(offs) - 1):
        k = kind[i]
        if k != 0:
            s, e = offs[i], offs[i + 1]
            for j in range(s, e):
                out_data[w] = data[j]
                w += 1
            if k & 4:  # the prefix token
                out_offs[t + 1] = out_offs[t] + 1
                t += 1
            if k & 2:  # the word, then the suffix token
                out_offs[t + 1] = w - 1
                t += 1
            out_offs[t + 1] = w
            t += 1
        else:
            for st in range(sfirst[h], sfirst[h] + scount[h]):
                a, b = soffs[st], soffs[st + 1]
                for j in range(a, b):
                    out_data[w] = sdata[j]
                    w += 1
                out_offs[t + 1] = w
                t += 1
            h += 1
    return w


def _chunk_tokens(ch: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The full rules on whitespace chunks: (tokens, chunk index of each token)."""
    if ch.offset or ch.buffers()[1] is None:
        ch = pa.concat_arrays([ch])
    # prefix / suffix punctuation by trimming (byte lengths → zero-copy pieces)
    blen = pc.binary_length(ch).to_numpy(zero_copy_only=False).astype(np.int64)
    lt = pc.utf8_ltrim(ch, characters=_PRE_SET)
    pre_b = blen - pc.binary_length(lt).to_numpy(zero_copy_only=False)
    rest = pc.utf8_rtrim(lt, characters=_SUF_SET)
    suf_b = pc.binary_length(lt).to_numpy(zero_copy_only=False) - pc.binary_length(rest).to_numpy(zero_copy_only=False)
    emo = pc.is_in(ch, value_set=pa.array(_EMOTICONS)).to_numpy(zero_copy_only=False)
    if emo.any():
        pre_b = np.where(emo, 0, pre_b)
        suf_b = np.where(emo, 0, suf_b)
    pieces = _pieces(ch, pre_b, suf_b)
    # spaCy splits a final "." only after a lowercase letter, digit, punctuation or two capitals, and
    # keeps abbreviations such as "e.g." / "U.S." whole: give that "." back to the word
    cand = np.flatnonzero((suf_b > 0) & (blen - pre_b - suf_b > 0))
    if len(cand):
        sub_mid = pieces.take(pa.array(3 * cand + 1))
        sub_suf = pieces.take(pa.array(3 * cand + 2))
        back = pc.starts_with(sub_suf, ".").to_numpy(zero_copy_only=False) & ~pc.starts_with(sub_suf, "..").to_numpy(
            zero_copy_only=False
        )
        if back.any():
            back &= pc.match_substring_regex(sub_mid, _KEEP_DOT).to_numpy(zero_copy_only=False)
            if back.any():
                suf_b = suf_b.copy()
                suf_b[cand[back]] -= 1
    pieces = _pieces(ch, pre_b, suf_b)
    kind = np.tile(np.array([0, 1, 2], np.int8), len(ch))
    plen = np.empty(3 * len(ch), np.int64)
    plen[0::3], plen[1::3], plen[2::3] = pre_b, blen - pre_b - suf_b, suf_b
    # one token per prefix / suffix character (runs of dots and "…" stay whole)
    single = (plen == 1) | (
        (plen <= 4) & (kind != 1) & pc.match_substring_regex(pieces, r"^(?:\.\.+|…|.)$").to_numpy(zero_copy_only=False)
    )
    punct = (kind != 1) & (plen > 0) & ~single
    pieces = _apply(pieces, punct, lambda a: pc.replace_substring_regex(a, r"(\):|\(:|''|\.\.+|…|.)", r"\1 "))
    mid = (kind == 1) & (plen > 1)
    # clitics ('s, n't, 're, ...) and infixes (not inside URLs)
    cl = mid & pc.match_substring_regex(pieces, _CLITIC_END).to_numpy(zero_copy_only=False)
    pieces = _apply(pieces, cl, lambda a: pc.replace_substring_regex(a, _CLITIC_END, r" \1"))
    # "cannot" -> "can not"; a unit "%" after a number is its own token
    cn = mid & pc.match_substring_regex(pieces, r"^[Cc]annot$|\d%$").to_numpy(zero_copy_only=False)
    pieces = _apply(pieces, cn, lambda a: pc.replace_substring_regex(a, r"^([Cc]an)(not)$|(\d)(%)$", r"\1\3 \2\4"))
    cl |= cn
    inf = mid & pc.match_substring_regex(
        pieces, r"[\pL\d](?:-|–|—|~|:|<|>|=|/|,)\pL|\p{Ll}\.\p{Lu}|\d[+\-*^][\d-]|\.\.|…"
    ).to_numpy(zero_copy_only=False)
    if inf.any():
        # a token that is a URL as a whole stays whole (spaCy's url_match)
        inf &= ~pc.match_substring_regex(
            pieces,
            r"^(?:[a-zA-Z][a-zA-Z0-9+.\-]*://|www\.|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$|"
            r"[\w\-]+(?:\.[\w\-]+)*\.(?:com|org|net|io|cc|edu|gov|de|uk|fr|dev|ai|info|biz)$|and/or$)",
        ).to_numpy(zero_copy_only=False)

        def infix(a):
            for _ in range(2):
                a = pc.replace_substring_regex(a, r"([\pL\d])(---|--|-|–|—|~|:|<|>|=|/)(\pL)", r"\1 \2 \3")
                a = pc.replace_substring_regex(a, r"(\pL),(\pL)", r"\1 , \2")
                a = pc.replace_substring_regex(a, r"(\p{Ll})\.(\p{Lu})", r"\1 . \2")
                a = pc.replace_substring_regex(a, r"(\d)([+\-*^])(\d|-)", r"\1 \2 \3")
            return pc.replace_substring_regex(a, r"(\.\.+|…)", r" \1 ")

        pieces = _apply(pieces, inf, infix)
    split = punct | cl | inf
    piece_chunk = np.repeat(np.arange(len(ch)), 3)
    if split.any():
        toks = split_whitespace(pieces)
        tok_vals = pc.list_flatten(toks)
        tok_piece = pc.list_parent_indices(toks).to_numpy(zero_copy_only=False)
    else:
        tok_vals, tok_piece = pieces, np.arange(len(pieces))
    ne = pc.not_equal(tok_vals, "")
    return tok_vals.filter(ne), piece_chunk[tok_piece[ne.to_numpy(zero_copy_only=False)]]


def token_ids(tok_vals: pa.Array) -> np.ndarray:
    """Integer id per token string (equal strings → equal ids), via Arrow's hash table."""
    if len(tok_vals) == 0:
        return np.zeros(0, dtype=np.uint64)
    enc = pc.dictionary_encode(tok_vals)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.uint64)


def ngram_key_seed(doc: np.ndarray) -> np.ndarray:
    """The empty n-gram's key at each position: its document index, mixed."""
    return splitmix64(doc.astype(np.uint64) + GOLDEN)


def ngram_key_extend(h: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Keys of k-grams from the keys ``h`` of the (k-1)-grams and the ids of their k-th words."""
    with np.errstate(over="ignore"):
        return splitmix64(h ^ (ids + np.uint64(k) * NGRAM_STEP))


def ngram_keys(ids: np.ndarray, doc: np.ndarray, n: int) -> np.ndarray:
    """uint64 key of the n-gram starting at each position (document mixed in); caller masks validity."""
    h = None
    for h, k in iter_ngram_keys(ids, doc, n):
        pass
    return h if h is not None and k == n else np.zeros(0, dtype=np.uint64)


def iter_ngram_keys(ids: np.ndarray, doc: np.ndarray, n_max: int):
    """Yield ``(keys, n)`` for n = 1..n_max, each n-gram key built from the (n-1)-gram key (one mix per n)."""
    h = ngram_key_seed(doc)
    for k in range(n_max):
        m = len(ids) - k
        if m <= 0:
            return
        h = ngram_key_extend(h[:m], ids[k : k + m], k + 1)
        yield h, k + 1


def first_occurrence(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each element: (is a repeat of an earlier equal key, count of its key, first index of its key)."""
    if len(keys) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z.astype(bool), z, z
    order = np.argsort(keys)
    sk = keys[order]
    start = np.ones(len(sk), dtype=bool)
    start[1:] = sk[1:] != sk[:-1]
    grp = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    counts = np.diff(np.append(starts, len(sk)))
    first_sorted = np.minimum.reduceat(order, starts)  # earliest index of each key
    cnt = np.empty(len(keys), dtype=np.int64)
    cnt[order] = counts[grp]
    first = np.empty(len(keys), dtype=np.int64)
    first[order] = first_sorted[grp]
    repeat = first != np.arange(len(keys))
    return repeat, cnt, first


def greedy_skip_chain(cand: np.ndarray, n: int) -> np.ndarray:
    """Select from sorted candidate positions greedily: take the first, then the first ≥ previous + n, ...

    Vectorised with pointer doubling (O(m log m)); returns the selected positions.
    """
    m = len(cand)
    if m == 0:
        return cand
    nxt = np.searchsorted(cand, cand + n, side="left")  # m = end sentinel
    nxt = np.append(nxt, m)
    sel = np.zeros(m + 1, dtype=bool)
    sel[0] = True
    jump = nxt
    # invariant: sel holds every node at distance < 2^k from node 0
    while True:
        nodes = np.flatnonzero(sel)
        new = jump[nodes]
        before = sel.sum()
        sel[new] = True
        if sel.sum() == before:
            break
        jump = jump[jump]
    return cand[np.flatnonzero(sel[:m])]

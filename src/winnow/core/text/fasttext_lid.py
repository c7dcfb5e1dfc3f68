"""fastText supervised-model inference (e.g. language ID with ``lid.176.ftz``) over a whole Arrow
string array in one compiled pass, with the same numbers as the fastText library.

fastText's ``predict`` is called once per document from Python and allocates a string per token
and per character n-gram. Here one numba kernel walks the UTF-8 bytes of the whole batch: tokens
split on fastText's separators (space, ``\\t\\n\\v\\f\\r\\0`` and, because the language step folds
line breaks into spaces, U+0085/U+2028/U+2029), a word id from the model's dictionary (FNV-1a
hash, exact byte match), the character n-grams of ``<token>`` hashed incrementally (FNV-1a with
fastText's sign extension of bytes, ``% bucket``, then the quantised model's pruning map), the
input rows summed in fastText's order in float32, then ``</s>``; a token seen before in the batch
reuses its list of rows (no n-gram hashing, same additions); the mean is scored by the
model's loss (hierarchical softmax: the Huffman tree fastText builds from label counts, path
log-probabilities ``log(σ + 1e-5)``; or softmax). The model file (``.bin`` or quantised ``.ftz``)
is parsed here; product-quantised rows are decoded once (``norm × centroid``, as fastText adds
them). ``tests/test_fasttext_lid.py`` compares labels and probabilities with the fastText library
on real and adversarial text.

    >>> import pyarrow as pa
    >>> from winnow.curate.filters.language import fasttext_lid176_path
    >>> m = FastTextModel.load(fasttext_lid176_path())
    >>> labels, probs = m.predict(pa.array(["The cat sat on the mat.", "Le chat est assis sur le tapis."]))
    >>> labels, bool((probs > 0.5).all())
    (['en', 'fr'], True)
"""

from __future__ import annotations

import struct

import numpy as np
from numba import njit

_MAGIC = 793712314
_LOSS_HS, _LOSS_SOFTMAX = 1, 3
_LABEL = np.frombuffer(b"__label__", np.uint8).copy()


def _fnv1a32(b: bytes) -> int:
    h = 2166136261
    for c in b:
        h ^= c if c < 128 else (c | 0xFFFFFF00)
        h = (h * 16777619) & 0xFFFFFFFF
    return h


class _Reader:
    def __init__(self, buf: bytes):
        self.b, self.o = buf, 0

    def unpack(self, fmt: str):
        v = struct.unpack_from("<" + fmt, self.b, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v

    def array(self, dtype, count: int) -> np.ndarray:
        a = np.frombuffer(self.b, dtype=dtype, count=count, offset=self.o)
        self.o += a.nbytes
        return a

    def cstring(self) -> bytes:
        e = self.b.index(b"\0", self.o)
        s = self.b[self.o : e]
        self.o = e + 1
        return s


def _pq(r: _Reader):
    dim, nsubq, dsub, lastdsub = r.unpack("4i")
    return dim, nsubq, dsub, lastdsub, r.array("<f4", dim * 256)


def _pq_decode(codes: np.ndarray, m: int, pq, alpha: np.ndarray) -> np.ndarray:
    """Rows as fastText's ProductQuantizer::addcode adds them: ``alpha * centroid`` in float32."""
    dim, nsubq, dsub, lastdsub, cent = pq
    codes = codes.reshape(m, nsubq).astype(np.int64)
    out = np.zeros((m, dim), np.float32)
    for s in range(nsubq):
        d = lastdsub if s == nsubq - 1 else dsub
        base = s * 256 * dsub
        c = cent[base : base + 256 * d].reshape(256, d)  # (the last block uses lastdsub strides)
        out[:, s * dsub : s * dsub + d] = alpha[:, None] * c[codes[:, s]]
    return out


def _matrix(r: _Reader, quant: bool) -> np.ndarray:
    if not quant:
        m, n = r.unpack("qq")
        return r.array("<f4", m * n).reshape(m, n).copy()
    qnorm, m, n, codesize = r.unpack("?qqi")
    codes = r.array(np.uint8, codesize)
    pq = _pq(r)
    alpha = np.ones(m, np.float32)
    if qnorm:
        norm_codes = r.array(np.uint8, m)
        npq = _pq(r)
        alpha = npq[4][norm_codes.astype(np.int64)].astype(np.float32)  # get_centroids(0, code)[0]
    return _pq_decode(codes, m, pq, alpha)


def _huffman(counts: np.ndarray):
    """fastText's HierarchicalSoftmaxLoss::buildTree → per leaf: path nodes (root first) and sides."""
    osz = len(counts)
    n = 2 * osz - 1
    cnt = np.full(n, 1e15)
    cnt[:osz] = counts
    left = np.full(n, -1, np.int64)
    right = np.full(n, -1, np.int64)
    parent = np.full(n, -1, np.int64)
    binary = np.zeros(n, bool)
    leaf, node = osz - 1, osz
    for i in range(osz, n):
        mini = [0, 0]
        for j in range(2):
            if leaf >= 0 and cnt[leaf] < cnt[node]:
                mini[j] = leaf
                leaf -= 1
            else:
                mini[j] = node
                node += 1
        left[i], right[i] = mini
        cnt[i] = cnt[mini[0]] + cnt[mini[1]]
        parent[mini[0]] = parent[mini[1]] = i
        binary[mini[1]] = True
    depth = 0
    paths = []
    for lf in range(osz):
        p, c = [], lf
        while parent[c] != -1:
            p.append((parent[c] - osz, binary[c]))
            c = parent[c]
        paths.append(p[::-1])
        depth = max(depth, len(p))
    nodes = np.full((osz, depth), -1, np.int64)
    side = np.zeros((osz, depth), np.bool_)
    for lf, p in enumerate(paths):
        for k, (nd, b) in enumerate(p):
            nodes[lf, k], side[lf, k] = nd, b
    return nodes, side


class FastTextModel:
    """A fastText supervised model loaded for batch prediction (see the module doc)."""

    def __init__(self, buf: bytes):
        r = _Reader(buf)
        magic, _version = r.unpack("ii")
        if magic != _MAGIC:
            raise ValueError("not a fastText model file (bad magic number)")
        args = r.unpack("12id")  # dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate t
        self.dim, self.word_ngrams, self.loss, model = args[0], args[5], args[6], args[7]
        self.bucket, self.minn, self.maxn = args[8], args[9], args[10]
        if model != 3:
            raise ValueError("only supervised fastText models can predict labels")
        if self.word_ngrams > 1:
            raise ValueError("fastText models with wordNgrams > 1 are not supported")
        if self.loss not in (_LOSS_HS, _LOSS_SOFTMAX):
            raise ValueError(f"fastText loss {self.loss} is not supported (hierarchical softmax or softmax)")
        size, self.nwords, nlabels, _ntokens, prune = r.unpack("iiiqq")
        words, counts, labels = [], [], []
        for _ in range(size):
            w = r.cstring()
            c, typ = r.unpack("qb")
            if typ == 0:
                words.append(w)
            else:
                labels.append(w.decode("utf-8", "replace"))
                counts.append(c)
        self.labels = [lb[9:] if lb.startswith("__label__") else lb for lb in labels]
        pr = r.array("<i4", 2 * prune).reshape(-1, 2) if prune > 0 else np.zeros((0, 2), np.int32)
        if prune == -1:  # not pruned: every bucket is a row
            self.prune_map = np.arange(self.bucket, dtype=np.int32)
        else:
            self.prune_map = np.full(self.bucket, -1, np.int32)
            self.prune_map[pr[:, 0]] = pr[:, 1]
        self.prune_bits = np.packbits(self.prune_map >= 0, bitorder="little")  # bucket k kept: bit k
        (quant,) = r.unpack("?")
        self.input = _matrix(r, quant)
        (qout,) = r.unpack("?")
        self.output = _matrix(r, quant and qout)
        # the dictionary as an open-addressing table on fastText's word hash (exact byte match)
        self.word_bytes = np.frombuffer(b"".join(words), np.uint8)
        self.word_offs = np.zeros(len(words) + 1, np.int64)
        np.cumsum([len(w) for w in words], out=self.word_offs[1:])
        cap = 1 << max(4, (2 * len(words)).bit_length())
        self.table = np.full(cap, -1, np.int64)
        for i, w in enumerate(words):
            j = _fnv1a32(w) & (cap - 1)
            while self.table[j] != -1:
                j = (j + 1) & (cap - 1)
            self.table[j] = i
        self.eos = words.index(b"</s>") if b"</s>" in words else -1
        if self.loss == _LOSS_HS:
            self.path_nodes, self.path_side = _huffman(np.asarray(counts, np.float64))

    @classmethod
    def load(cls, path: str) -> "FastTextModel":
        with open(path, "rb") as fh:
            return cls(fh.read())

    def hidden(self, data: np.ndarray, offs: np.ndarray) -> np.ndarray:
        """The mean input vector per document (float32, fastText's order of additions)."""
        out = np.zeros((len(offs) - 1, self.dim), np.float32)
        _hidden(
            data,
            offs,
            self.table,
            self.word_bytes,
            self.word_offs,
            self.prune_map,
            self.prune_bits,
            self.nwords,
            self.bucket,
            self.minn,
            self.maxn,
            self.eos,
            self.input,
            out,
        )
        return out

    def predict(self, text) -> tuple[list[str], np.ndarray]:
        """Top label and its probability per string of an Arrow string array (fastText's ``predict(k=1)``)."""
        from winnow.core.text.byte_tokens import string_buffers

        data, offs = string_buffers(text)
        h = self.hidden(data, offs.astype(np.int64))
        if self.loss == _LOSS_HS:
            best = np.zeros(len(h), np.int64)
            score = np.zeros(len(h), np.float32)
            _hs_best(h, self.output, self.path_nodes, self.path_side, best, score)
        else:
            z = (h.astype(np.float64) @ self.output.T.astype(np.float64)).astype(np.float32)
            z = np.exp(z - z.max(axis=1, keepdims=True))
            p = z / z.sum(axis=1, keepdims=True)
            best = p.argmax(axis=1)
            score = np.log(p[np.arange(len(p)), best] + np.float32(1e-5))
        prob = np.exp(score.astype(np.float32)).astype(np.float64)
        return [self.labels[i] for i in best], prob


@njit(cache=True, nogil=True, inline="always")
def _is_sep(data, i, e):
    """Length of the separator starting at byte i (0: none)."""
    c = data[i]
    if c == 32 or c == 10 or c == 13 or c == 9 or c == 11 or c == 12 or c == 0:
        return 1
    if c == 0xC2 and i + 1 < e and data[i + 1] == 0x85:
        return 2
    if c == 0xE2 and i + 2 < e and data[i + 1] == 0x80 and (data[i + 2] == 0xA8 or data[i + 2] == 0xA9):
        return 3
    return 0


@njit(cache=True, nogil=True, inline="always")
def _fnv_step(h, c):
    # numba widens uint32 arithmetic to 64 bits: keep fastText's uint32 wrap-around by masking
    x = np.uint64(c) if c < 128 else (np.uint64(c) | np.uint64(0xFFFFFF00))
    return ((h ^ x) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _byte_at(data, s, e, k):
    """Byte k of the virtual string ``<`` + data[s:e] + ``>``."""
    if k == 0:
        return 60
    if k == e - s + 1:
        return 62
    return data[s + k - 1]


@njit(cache=True, nogil=True)
def _hidden(data, offs, table, wbytes, woffs, prune_map, prune_bits, nwords, bucket, minn, maxn, eos, E, out):
    dim = E.shape[1]
    cap = table.shape[0]
    acc = np.zeros(dim, np.float32)
    # distinct tokens seen in this batch: where (start, length), and their input rows in order
    ccap = 1 << 18
    c_start = np.zeros(ccap, np.int64)
    c_len = np.full(ccap, -1, np.int64)
    c_pos = np.zeros(ccap, np.int64)
    c_cnt = np.zeros(ccap, np.int64)
    pool = np.zeros(1 << 22, np.int32)
    npool = 0
    used = 0
    for d in range(len(offs) - 1):
        acc[:] = 0
        cnt = 0
        i = offs[d]
        e = offs[d + 1]
        while i < e:
            k = _is_sep(data, i, e)
            if k:
                i += k
                continue
            s = i
            while i < e and _is_sep(data, i, e) == 0:
                i += 1
            # token data[s:i]; a "__label__..." token is a label, not a word
            if i - s >= 9:
                lab = True
                for q in range(9):
                    if data[s + q] != _LABEL[q]:
                        lab = False
                        break
                if lab:
                    continue
            h = np.uint64(2166136261)
            for q in range(s, i):
                h = _fnv_step(h, data[q])
            # a token seen before in this batch: its rows again, without hashing its n-grams
            cj = np.int64(h) & (ccap - 1)
            hit = -1
            while c_len[cj] >= 0:
                if c_len[cj] == i - s:
                    cs0 = c_start[cj]
                    same = True
                    for q in range(i - s):
                        if data[cs0 + q] != data[s + q]:
                            same = False
                            break
                    if same:
                        hit = cj
                        break
                cj = (cj + 1) & (ccap - 1)
            if hit >= 0:
                for q in range(c_pos[hit], c_pos[hit] + c_cnt[hit]):
                    r = pool[q]
                    for t in range(dim):
                        acc[t] += E[r, t]
                cnt += c_cnt[hit]
                continue
            p0 = npool
            tcnt = 0
            j = np.int64(h) & (cap - 1)
            wid = -1
            while table[j] != -1:
                w = table[j]
                a, b = woffs[w], woffs[w + 1]
                if b - a == i - s:
                    same = True
                    for q in range(b - a):
                        if wbytes[a + q] != data[s + q]:
                            same = False
                            break
                    if same:
                        wid = w
                        break
                j = (j + 1) & (cap - 1)
            if wid >= 0:
                for t in range(dim):
                    acc[t] += E[wid, t]
                tcnt += 1
                if npool < len(pool):
                    pool[npool] = wid
                    npool += 1
            # character n-grams of "<token>" (n counted in UTF-8 characters)
            L = i - s + 2
            for p in range(L):
                if (_byte_at(data, s, i, p) & 0xC0) == 0x80:
                    continue
                hh = np.uint64(2166136261)
                jj = p
                n = 1
                while jj < L and n <= maxn:
                    hh = _fnv_step(hh, _byte_at(data, s, i, jj))
                    jj += 1
                    while jj < L and (_byte_at(data, s, i, jj) & 0xC0) == 0x80:
                        hh = _fnv_step(hh, _byte_at(data, s, i, jj))
                        jj += 1
                    if n >= minn and not (n == 1 and (p == 0 or jj == L)):
                        bk = np.int64(hh) % bucket
                        # the bit set of kept buckets (250 KB, stays in cache) first: most n-grams
                        # fall in a pruned bucket and need no read of the 8 MB map
                        pid = prune_map[bk] if (prune_bits[bk >> 3] >> (bk & 7)) & 1 else -1
                        if pid >= 0:
                            r = nwords + pid
                            for t in range(dim):
                                acc[t] += E[r, t]
                            tcnt += 1
                            if npool < len(pool):
                                pool[npool] = r
                                npool += 1
                    n += 1
            cnt += tcnt
            if used * 2 < ccap and npool - p0 == tcnt:  # remember it (the table stays at most half full)
                c_start[cj] = s
                c_len[cj] = i - s
                c_pos[cj] = p0
                c_cnt[cj] = tcnt
                used += 1
            else:
                npool = p0
        if eos >= 0:
            for t in range(dim):
                acc[t] += E[eos, t]
            cnt += 1
        if cnt:
            inv = np.float32(1.0 / cnt)
            for t in range(dim):
                out[d, t] = acc[t] * inv


@njit(cache=True, nogil=True)
def _hs_best(H, W, nodes, side, best, score):
    n_int = W.shape[0]
    osz = nodes.shape[0]
    lo = np.zeros(n_int, np.float32)
    hi = np.zeros(n_int, np.float32)
    for d in range(H.shape[0]):
        for k in range(n_int):
            z = np.float32(0.0)
            for t in range(H.shape[1]):
                z += W[k, t] * H[d, t]
            f = np.float32(1.0 / (1.0 + np.exp(-np.float64(z))))
            hi[k] = np.float32(np.log(np.float64(f) + 1e-5))
            lo[k] = np.float32(np.log(1.0 - np.float64(f) + 1e-5))
        bs = np.float32(-np.inf)
        bl = 0
        for lf in range(osz):
            sc = np.float32(0.0)
            for q in range(nodes.shape[1]):
                nd = nodes[lf, q]
                if nd < 0:
                    break
                sc += hi[nd] if side[lf, q] else lo[nd]
            if sc > bs:
                bs = sc
                bl = lf
        best[d] = bl
        score[d] = bs

"""Input formats users have (issue 22): WARC/WET, CSV/TSV, Arrow IPC, HF save_to_disk folders."""

from __future__ import annotations

import glob
import io
import os
import sysconfig

import pyarrow as pa

from winnow import Pipeline
from winnow.core.io.readers import InputSpec, plan_tasks, read_task


def _read(path, **kw):
    spec = InputSpec(path=path, **kw)
    tables, quar = [], []
    for task in plan_tasks(spec):
        for ch in read_task(spec, task):
            tables.append(ch.table)
            quar.append(ch.quarantine)
    return pa.concat_tables(tables, promote_options="permissive"), pa.concat_tables(quar)


def _real_html_pages() -> list[tuple[str, bytes]]:
    """Real HTML: pydoc pages of stdlib modules and Django's HTML templates (shipped with the packages)."""
    import json as json_mod
    import pydoc
    import textwrap

    pages = [
        (
            f"https://docs.example.org/{m.__name__}.html",
            pydoc.HTMLDoc().page(m.__name__, pydoc.HTMLDoc().docmodule(m)).encode(),
        )
        for m in (json_mod, textwrap, pydoc)
    ]
    sp = sysconfig.get_paths()["purelib"]
    for p in sorted(glob.glob(f"{sp}/django/views/templates/*.html"))[:3]:
        pages.append((f"https://django.example.org/{os.path.basename(p)}", open(p, "rb").read()))
    return pages


def test_warc_reads_to_the_same_texts_as_the_html_reader(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = _real_html_pages()
    html_dir = tmp_path / "html"
    html_dir.mkdir()
    for k, (_, body) in enumerate(pages):
        (html_dir / f"p{k}.html").write_bytes(body)
    warc = tmp_path / "crawl.warc.gz"
    with open(warc, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, body in pages:
            w.write_record(w.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        w.write_record(
            w.create_warc_record(
                "https://x.example/a.png", "response", payload=io.BytesIO(b"\x89PNG..."), http_headers=http
            )
        )
    wt, wq = _read(str(warc))
    ht, hq = _read(str(html_dir))
    assert wq.num_rows == 0 and hq.num_rows == 0
    assert wt.num_rows == len(pages)  # responses only; the request and the image are not documents
    by_name = dict(zip(ht.column("id").to_pylist(), ht.column("text").to_pylist()))
    html_texts = [by_name[n] for n in sorted(by_name, key=lambda n: int(os.path.basename(n)[1:-5]))]
    assert wt.column("text").to_pylist() == html_texts
    assert wt.column("url").to_pylist() == [u for u, _ in pages]
    assert all(i.startswith("urn:uuid:") for i in wt.column("id").to_pylist())


def test_wet_conversion_records_are_plain_text(tmp_path):
    from warcio.warcwriter import WARCWriter

    texts = ["First page text.\nSecond line.", "Zweite Seite, mit Umlauten: äöü."]
    wet = tmp_path / "crawl.warc.wet.gz"
    with open(wet, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for k, t in enumerate(texts):
            w.write_record(
                w.create_warc_record(
                    f"https://x.example/{k}",
                    "conversion",
                    payload=io.BytesIO(t.encode()),
                    warc_headers_dict={"Content-Type": "text/plain"},
                )
            )
    t, q = _read(str(wet))
    assert t.column("text").to_pylist() == texts and q.num_rows == 0


def test_csv_and_tsv_with_a_named_text_column_and_a_bad_row(tmp_path):
    (tmp_path / "a.csv").write_text('doc_id,body,lang\n1,"hello, world",en\n2,"multi\nline",en\n3,x,y,z\n4,last,en\n')
    (tmp_path / "b.tsv").write_text("doc_id\tbody\n10\tone\n11\ttwo\n")
    t, q = _read(str(tmp_path), text_column="body", id_column="doc_id")
    assert sorted(t.column("text").to_pylist()) == sorted(["hello, world", "multi\nline", "last", "one", "two"])
    assert sorted(t.column("id").to_pylist()) == ["1", "10", "11", "2", "4"]
    assert (
        q.num_rows == 1 and "fields" in q.column("error")[0].as_py() and q.column("file")[0].as_py().endswith("a.csv")
    )


def test_arrow_ipc_and_hf_save_to_disk_folder(tmp_path):
    import datasets
    import pyarrow.feather as feather

    docs = {"id": [f"d{i}" for i in range(50)], "text": [f"document number {i}" for i in range(50)]}
    feather.write_feather(pa.table(docs), str(tmp_path / "t.feather"))
    t, q = _read(str(tmp_path / "t.feather"))
    assert t.column("id").to_pylist() == docs["id"] and q.num_rows == 0
    ds = datasets.Dataset.from_dict(docs)
    ds.save_to_disk(str(tmp_path / "hf"), num_shards=3)
    t, q = _read(str(tmp_path / "hf"))
    assert t.column("id").to_pylist() == docs["id"] and q.num_rows == 0  # shards in order, no JSON metadata rows
    res = Pipeline([{"length": {"min_words": 3}}]).run(str(tmp_path / "hf"), str(tmp_path / "run"))
    assert res.manifest["totals"]["rows_in"] == 50 and res.manifest["totals"]["rows_quarantined"] == 0

"""MLCommons Croissant 1.0 metadata (``croissant.json``) for a benchmark's PUBLIC data directory.

    describe(data_dir, is_hidden=benchmark_type.is_hidden, name=..., url=...) -> dict (JSON-LD)

Every public file becomes a ``cr:FileObject`` (``contentUrl`` = its path inside the public download,
``encodingFormat``, ``sha256``). Every tabular file (Parquet, CSV) also gets a ``cr:RecordSet`` whose
fields come from the file's header/schema, read with pyarrow (Parquet: the footer only, no row data);
list columns (embeddings) are ``repeated`` fields of their element type. Files the benchmark type marks
hidden (``hidden_patterns``) are skipped before anything about them is read, so neither their names nor
their contents can appear. ``croissant.json`` itself is never described.

License, citation and source come from the caller, else from a public ``SOURCE.json`` in the data
directory (written by ``fixtures.builders.layouts.write_layout`` from the task's documented source:
``{"title", "source", "license", "citation", "url"}``), else they say the license is unspecified.
Plain Python: no Django (``docs/datasets.md`` describes the file).
"""
from __future__ import annotations

import csv
import datetime
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
FILE_NAME = "croissant.json"
SOURCE_FILE = "SOURCE.json"
UNSPECIFIED_LICENSE = "unspecified: see the challenge's rules"

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

ENCODINGS = {
    ".parquet": "application/x-parquet",
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".wav": "audio/wav",
    ".npy": "application/x-npy",
    ".npz": "application/x-npz",
    ".zip": "application/zip",
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ident(text: str) -> str:
    """A JSON-LD ``@id`` fragment: letters, digits, ``_ - . /`` (paths stay readable)."""
    return re.sub(r"[^A-Za-z0-9_./-]+", "_", text)


def _arrow_data_type(arrow_type) -> tuple[str, bool]:
    """(schema.org data type, repeated) of a pyarrow type."""
    import pyarrow as pa

    repeated = False
    while pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) \
            or pa.types.is_fixed_size_list(arrow_type):
        arrow_type, repeated = arrow_type.value_type, True
    if pa.types.is_boolean(arrow_type):
        kind = "sc:Boolean"
    elif pa.types.is_integer(arrow_type):
        kind = "sc:Integer"
    elif pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        kind = "sc:Float"
    elif pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        kind = "sc:Date"
    else:
        kind = "sc:Text"
    return kind, repeated


def _columns(path: Path) -> list[tuple[str, str, bool]] | None:
    """[(column, data type, repeated)] of a tabular file, from its header only; None: not tabular."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        return [(field.name, *_arrow_data_type(field.type)) for field in schema]
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            header = next(csv.reader(fh), [])
        if not header:
            return []
        # Types from the first block of rows (pyarrow's inference); all-text when it cannot decide.
        try:
            table = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16)).read_next_batch()
            return [(field.name, *_arrow_data_type(field.type)) for field in table.schema]
        except Exception:  # noqa: BLE001 - an odd CSV is still described, as text
            return [(name, "sc:Text", False) for name in header]
    return None


def _read_source(data_dir: Path) -> dict[str, Any]:
    path = data_dir / SOURCE_FILE
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def public_files(data_dir: Path, is_hidden: Callable[[str], bool] | None = None) -> list[str]:
    """The data directory's public files (relative, ``/``-separated, sorted), never ``croissant.json``."""
    data_dir = Path(data_dir)
    files = sorted(str(p.relative_to(data_dir)).replace(os.sep, "/") for p in data_dir.rglob("*") if p.is_file())
    return [f for f in files if f != FILE_NAME and not (is_hidden and is_hidden(f))]


def describe(data_dir: Path, *, is_hidden: Callable[[str], bool] | None = None, name: str | None = None,
             description: str | None = None, url: str | None = None, license: str | None = None,
             citation: str | None = None, content_url_base: str = "", version: str | None = None,
             keywords: list[str] | None = None, date_published: str | None = None) -> dict[str, Any]:
    """Croissant JSON-LD describing the public files of ``data_dir``.

    ``is_hidden(relative_path)`` (a benchmark type's ``is_hidden``) drops the files that stay on the
    worker. ``content_url_base`` prefixes every ``contentUrl`` (default: paths relative to the
    unpacked public download, where ``croissant.json`` sits). ``version`` defaults to the first 12 hex
    digits of a digest of the public files' hashes (it changes exactly when the data does);
    ``date_published`` (ISO date) to the newest public file's modification date.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(f"--data: {data_dir} is not a directory")
    source = _read_source(data_dir)
    files = public_files(data_dir, is_hidden)
    distribution: list[dict[str, Any]] = []
    newest = 0.0
    record_sets: list[dict[str, Any]] = []
    for relative in files:
        path = data_dir / relative
        file_id = _ident(relative)
        newest = max(newest, path.stat().st_mtime)
        distribution.append({
            "@type": "cr:FileObject",
            "@id": file_id,
            "name": relative,
            "contentUrl": content_url_base + relative,
            "contentSize": f"{path.stat().st_size} B",
            "encodingFormat": ENCODINGS.get(path.suffix.lower(), "application/octet-stream"),
            "sha256": _sha256(path),
        })
        columns = _columns(path)
        if not columns:
            continue
        set_id = "records/" + file_id
        fields = []
        for column, data_type, repeated in columns:
            field: dict[str, Any] = {
                "@type": "cr:Field",
                "@id": f"{set_id}/{_ident(column)}",
                "name": column,
                "dataType": data_type,
                "source": {"fileObject": {"@id": file_id}, "extract": {"column": column}},
            }
            if repeated:
                field["repeated"] = True
            fields.append(field)
        record_sets.append({"@type": "cr:RecordSet", "@id": set_id, "name": relative,
                            "description": f"Rows of {relative}.", "field": fields})
    title = name or source.get("title") or data_dir.name
    text = description or source.get("description") or title
    if source.get("source") and source["source"] not in text:
        text = f"{text}\n\nSource: {source['source']}"
    citation = citation or source.get("citation") or \
        f"{title}. DataPerf benchmark data{(', ' + url) if url else ''}."
    metadata: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": title,
        "description": text,
        "license": license or source.get("license") or UNSPECIFIED_LICENSE,
        "citeAs": citation,
        "url": url or source.get("url") or "https://dataperf.org/",
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if not version:
        combined = hashlib.sha256("".join(f"{d['name']}:{d['sha256']}\n" for d in distribution).encode())
        version = "0.0.0+" + combined.hexdigest()[:12]
    metadata["version"] = version
    if not date_published:
        date_published = datetime.datetime.fromtimestamp(newest or 0, datetime.timezone.utc).date().isoformat()
    metadata["datePublished"] = date_published
    if keywords:
        metadata["keywords"] = list(keywords)
    return metadata


def dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"

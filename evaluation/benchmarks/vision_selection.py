"""DataPerf vision selection (CoactiveAI/dataperf-vision-selection).

Per concept (Cupcake, Hawk, Sushi) participants label at most ``max_train_size`` (1,000) images of
the unlabeled candidate pool (``embeddings/train_emb_256_dataperf.parquet``). The reference
``main.py``/``eval.py`` joins the labels to the pool embeddings, fits
``LogisticRegression(random_state=0)`` and reports binary F1 of the positive class on the concept's
test set (``test_sets/alpha_test_set_<Concept>_256.parquet``). The leaderboard ranks by the mean F1
of the concepts.

Deliberate differences from the reference (see docs/benchmarks/selection.md): ImageIDs that are not
in the pool are rejected (the reference silently drops them), duplicate ImageIDs within a concept
are rejected (the reference keeps them as extra rows), the 1,000-row cap and 0/1 labels are
enforced (the Dynabench server's rule), and a set with a single label is rejected (the reference
crashes in LogisticRegression).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

import numpy as np

from ..base import BenchmarkType, DataError, Metric, ProgressCallback, Result, SubmissionError, no_progress
from ..cache import derived_arrays, take_rows
from ..registry import register
from ..submission_io import open_zip, shorten
from ._selection_common import parse_json, preview, read_embedding_table, \
    read_submission_bytes, single_threaded_blas, type_name

POOL_PATH = "embeddings/train_emb_256_dataperf.parquet"
TEST_PREFIX, TEST_SUFFIX = "alpha_test_set_", "_256.parquet"
RANDOM_SEED = 0  # constants.RANDOM_SEED of the reference


@dataclasses.dataclass
class TestSet:
    x: np.ndarray   # float64
    y: np.ndarray   # int 0/1


@dataclasses.dataclass
class VisionProblem:
    data_dir: Path
    concepts: tuple[str, ...]
    pool: np.ndarray                 # stored dtype (float32 lists stay float32)
    row_of: Mapping[str, int]        # ImageID -> row (first occurrence): a dict or a SortedIdIndex
    duplicate_rows: dict[str, list[int]]  # ImageIDs stored more than once in the pool -> all rows
    tests: dict[str, TestSet]
    dim: int


@dataclasses.dataclass
class ConceptLabels:
    ids: list[str]
    labels: np.ndarray  # int8 0/1, same order as ids
    source: str


@dataclasses.dataclass
class VisionSolution:
    concepts: dict[str, ConceptLabels]


@register
class VisionSelection(BenchmarkType):
    slug = "vision-selection"
    title = "Vision selection (image classifier training-set selection)"
    kind = "selection"
    metrics = (
        Metric("mean_f1", "Mean F1 over concepts"),
        Metric("f1_Cupcake", "F1 Cupcake"),
        Metric("f1_Hawk", "F1 Hawk"),
        Metric("f1_Sushi", "F1 Sushi"),
    )

    def metrics_for(self, config: dict[str, Any]) -> tuple[Metric, ...]:
        # One column per configured concept, after the primary mean.
        concepts = config.get("concepts") or ()
        return (self.metrics[0],) + tuple(Metric(f"f1_{c}", f"F1 {c}") for c in concepts)
    primary_metric = "mean_f1"
    hidden_patterns = ("test_sets/*",)
    submission_suffixes = (".zip", ".json")
    default_config = {"concepts": ["Cupcake", "Hawk", "Sushi"], "max_train_size": 1000}

    # --- data -------------------------------------------------------------------------------
    def load_problem(self, data_dir: Path, config: dict[str, Any]) -> VisionProblem:
        self._max_size(config)
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DataError(f"data directory {data_dir} does not exist")
        concepts = self._concepts(data_dir, config)

        pool_path = data_dir / POOL_PATH
        if not pool_path.exists():
            raise DataError(f"missing {POOL_PATH} (file or Spark-partitioned directory) in {data_dir}")
        pool, row_of, duplicate_rows = _load_pool(pool_path)
        dim = pool.shape[1]

        tests: dict[str, TestSet] = {}
        for concept in concepts:
            path = data_dir / "test_sets" / f"{TEST_PREFIX}{concept}{TEST_SUFFIX}"
            if not path.is_file():
                candidates = sorted((data_dir / "test_sets").glob(f"{TEST_PREFIX}{concept}_*.parquet"))
                if len(candidates) != 1:
                    raise DataError(f"missing test set test_sets/{path.name} for concept {concept!r}")
                path = candidates[0]
            _, x, extra = read_embedding_table(path, "ImageID", "embedding", ["Confidence"])
            if x.shape[1] != dim:
                raise DataError(f"test_sets/{path.name}: {x.shape[1]}-d embeddings, the pool is {dim}-d")
            y = np.asarray([_test_label(v, path.name) for v in extra["Confidence"]], dtype=np.int8)
            if len(y) == 0:
                raise DataError(f"test_sets/{path.name} has no rows")
            tests[concept] = TestSet(x=np.ascontiguousarray(x, dtype=np.float64), y=y)
        return VisionProblem(data_dir=data_dir, concepts=tuple(concepts), pool=pool, row_of=row_of,
                             duplicate_rows=duplicate_rows, tests=tests, dim=dim)

    @staticmethod
    def _max_size(config: dict[str, Any]) -> int:
        size = config.get("max_train_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise DataError(f"config max_train_size must be a positive integer, got {size!r}")
        return size

    @staticmethod
    def _concepts(data_dir: Path, config: dict[str, Any]) -> list[str]:
        concepts = config.get("concepts")
        if not isinstance(concepts, (list, tuple)) or not all(isinstance(c, str) and c for c in concepts):
            raise DataError(f"config concepts must be a list of concept names, got {concepts!r}")
        if not concepts:  # empty list: every test set found in test_sets/
            concepts = sorted(p.name[len(TEST_PREFIX):-len(TEST_SUFFIX)]
                              for p in (data_dir / "test_sets").glob(f"{TEST_PREFIX}*{TEST_SUFFIX}"))
            if not concepts:
                raise DataError(f"no test_sets/{TEST_PREFIX}<Concept>{TEST_SUFFIX} files in {data_dir}")
        if len(set(concepts)) != len(concepts):
            raise DataError(f"config concepts lists a concept twice: {concepts}")
        return list(concepts)

    # --- submission ---------------------------------------------------------------------------
    def load_submission(self, problem: VisionProblem, path: Path, config: dict[str, Any]) -> VisionSolution:
        max_size = self._max_size(config)
        path = Path(path)
        if path.is_dir():
            raw = self._from_directory(problem, path)
        elif path.suffix.lower() == ".zip":
            raw = self._from_zip(problem, path)
        elif path.suffix.lower() == ".json":
            raw = self._from_nested_json(problem, path)
        else:
            raise SubmissionError(
                f"{path.name}: expected a directory of <Concept>.csv / <Concept>.json files, a .zip of them, "
                "or one .json file {Concept: {ImageID: 0|1}}")
        return VisionSolution({concept: self._check_concept(problem, concept, raw[concept], max_size)
                               for concept in problem.concepts})

    def _from_directory(self, problem: VisionProblem, folder: Path) -> dict[str, ConceptLabels]:
        files = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
        return self._from_files(problem, files, folder.name,
                                lambda name: read_submission_bytes(files[name], "file"))

    def _from_zip(self, problem: VisionProblem, path: Path) -> dict[str, ConceptLabels]:
        read_submission_bytes(path)  # the size and emptiness checks
        with open_zip(path, path.name) as archive:
            files: dict[str, zipfile.ZipInfo] = {}
            for info in archive.members:
                member = PurePosixPath(info.filename.replace("\\", "/"))
                if member.name.startswith(".") or "__MACOSX" in member.parts:
                    continue
                if member.name in files:
                    raise SubmissionError(f"{path.name}: {shorten(member.name)} appears twice in the archive "
                                          f"({shorten(files[member.name].filename)} and {shorten(info.filename)})")
                files[member.name] = info
            return self._from_files(problem, files, path.name, lambda name: archive.read(files[name]))

    def _from_files(self, problem: VisionProblem, names, where: str, read) -> dict[str, ConceptLabels]:
        result: dict[str, ConceptLabels] = {}
        for concept in problem.concepts:
            found = [n for n in (f"{concept}.csv", f"{concept}.json") if n in names]
            if len(found) == 2:
                raise SubmissionError(f"{where}: both {concept}.csv and {concept}.json are present; keep one")
            if not found:
                near = [n for n in names if n.lower() in (f"{concept}.csv".lower(), f"{concept}.json".lower())]
                hint = f" (found {near[0]!r}; names are case-sensitive)" if near else ""
                raise SubmissionError(f"{where}: missing the training set for concept {concept!r}: expected "
                                      f"{concept}.csv or {concept}.json{hint}")
            name = found[0]
            data = read(name)
            if name.endswith(".csv"):
                result[concept] = _parse_csv(data, name)
            else:
                result[concept] = _parse_label_object(parse_json(data, name), name)
        return result

    def _from_nested_json(self, problem: VisionProblem, path: Path) -> dict[str, ConceptLabels]:
        content = parse_json(read_submission_bytes(path), path.name)
        expected = "{Concept: {ImageID: 0|1}}"
        if not isinstance(content, dict):
            raise SubmissionError(f"{path.name}: expected a JSON object {expected}, got {type_name(content)}")
        if content and all(not isinstance(v, dict) for v in content.values()):
            raise SubmissionError(f"{path.name}: looks like a flat {{ImageID: label}} object; a single JSON "
                                  f"submission must be nested {expected} with one entry per concept "
                                  f"({', '.join(problem.concepts)}), or upload a directory/zip of <Concept>.json files")
        unknown = [key for key in content if key not in problem.concepts]
        if unknown:
            raise SubmissionError(f"{path.name}: unknown concept(s) {preview(unknown)}; expected "
                                  f"{', '.join(problem.concepts)}")
        missing = [c for c in problem.concepts if c not in content]
        if missing:
            raise SubmissionError(f"{path.name}: missing the training set for concept {missing[0]!r}"
                                  + (f" (and {preview(missing[1:])})" if len(missing) > 1 else ""))
        return {c: _parse_label_object(content[c], f"{path.name}[{c!r}]") for c in problem.concepts}

    @staticmethod
    def _check_concept(problem: VisionProblem, concept: str, labels: ConceptLabels, max_size: int) -> ConceptLabels:
        where = labels.source
        if len(labels.ids) > max_size:
            raise SubmissionError(f"{where}: {len(labels.ids)} labelled images for {concept!r} exceeds the limit "
                                  f"of {max_size}")
        seen: set[str] = set()
        dupes = [i for i in labels.ids if i in seen or seen.add(i)]
        if dupes:
            raise SubmissionError(f"{where}: ImageID {shorten(dupes[0])} appears more than once"
                                  + (f" ({len(set(dupes))} duplicated ids in total)" if len(set(dupes)) > 1 else "")
                                  + "; label each image once")
        if isinstance(problem.row_of, SortedIdIndex):
            unknown = [i for i, row in zip(labels.ids, problem.row_of.rows(labels.ids)) if row < 0]
        else:
            unknown = [i for i in labels.ids if i not in problem.row_of]
        if unknown:
            raise SubmissionError(f"{where}: {len(unknown)} ImageID(s) are not in the candidate pool: "
                                  f"{preview(unknown, 5)}")
        present = set(labels.labels.tolist())
        if present != {0, 1}:
            if not labels.ids:
                raise SubmissionError(f"{where}: no labelled images for {concept!r}")
            only = present.pop()
            raise SubmissionError(f"{where}: every image is labelled {only}; the logistic regression needs at "
                                  "least one image labelled 0 and one labelled 1")
        return labels

    # --- scoring ------------------------------------------------------------------------------
    def evaluate(self, problem: VisionProblem, solution: VisionSolution, config: dict[str, Any],
                 progress: ProgressCallback = no_progress) -> Result:
        from .. import exact_logreg

        # The pinned scikit-learn's fit and metrics re-stated bit for bit without importing it (a cold
        # command saves ~1 s); any other scikit-learn version is used as is.
        exact = exact_logreg.available()
        scores: dict[str, float] = {}
        per_concept: dict[str, dict[str, Any]] = {}
        f1s = []
        for index, concept in enumerate(problem.concepts):
            chosen = solution.concepts[concept]
            rows, y = _join(problem, chosen)
            x = take_rows(problem.pool, rows).astype(np.float64)  # the reference feeds lists of Python floats
            test = problem.tests[concept]
            with warnings.catch_warnings(), single_threaded_blas():
                warnings.simplefilter("ignore")
                if exact:
                    pred = exact_logreg.BinaryLogisticRegression().fit(x, y).predict(test.x)
                    metrics = exact_logreg.binary_metrics(test.y, pred)
                else:
                    metrics = _sklearn_scores(x, y, test)
            metrics.update(n_train=int(len(rows)), n_positive=int(y.sum()))
            per_concept[concept] = metrics
            scores[f"f1_{concept}"] = metrics["f1"]
            f1s.append(metrics["f1"])
            progress((index + 1) / len(problem.concepts), f"{concept}: F1 {metrics['f1']:.4f}")
        scores = {"mean_f1": float(np.mean(f1s)), **scores}
        return Result(scores=scores, details={"per_concept": per_concept, "concepts": list(problem.concepts)})


def _sklearn_scores(x: np.ndarray, y: np.ndarray, test: TestSet) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    pred = LogisticRegression(random_state=RANDOM_SEED).fit(x, y).predict(test.x)
    return {
        "accuracy": float(accuracy_score(test.y, pred)),
        "recall": float(recall_score(test.y, pred, pos_label=1)),
        "precision": float(precision_score(test.y, pred, pos_label=1)),
        "f1": float(f1_score(test.y, pred, pos_label=1)),
    }


def _load_pool(pool_path: Path) -> tuple[np.ndarray, Mapping[str, int], dict[str, list[int]]]:
    """The pool matrix, ImageID -> first row, and the rows of ImageIDs stored more than once.

    Decoded from parquet once per pool version and kept in the on-disk cache (``evaluation.cache``):
    a cold command memory-maps the matrix and a sorted id array (milliseconds for 200,000 rows)
    instead of decoding 200,000 list values and building a dict of 200,000 strings.
    """
    def build() -> dict[str, Any]:
        ids, pool, _ = read_embedding_table(pool_path, "ImageID", "embedding")
        if not ids:
            raise DataError(f"{POOL_PATH} has no rows")
        if any("\0" in i for i in ids):  # numpy str arrays drop trailing NULs: keep the plain dict
            return {"pool": pool, "ids_list": ids}
        array = np.asarray(ids, dtype=str)
        order = np.argsort(array, kind="stable").astype(np.int64)
        index = SortedIdIndex(array[order], order)
        return {"pool": pool, "sorted_ids": index.sorted_ids, "order": order,
                "duplicates": {"rows": index.duplicate_rows(), "unique": len(index)}}

    values = derived_arrays("vision-pool-v2", [pool_path], build)
    if "ids_list" in values:
        row_of: dict[str, int] = {}
        duplicate_rows: dict[str, list[int]] = {}
        for row, image_id in enumerate(values["ids_list"]):
            if image_id in row_of:
                duplicate_rows.setdefault(image_id, [row_of[image_id]]).append(row)
            else:
                row_of[image_id] = row
        return values["pool"], row_of, duplicate_rows
    index = SortedIdIndex(values["sorted_ids"], values["order"], values["duplicates"]["unique"])
    return values["pool"], index, {key: list(rows) for key, rows in values["duplicates"]["rows"].items()}


class SortedIdIndex(Mapping):
    """ImageID -> first row, as a read-only mapping over a sorted id array (binary search).

    Iterates like the equivalent dict (each id once, in order of its first row)."""

    def __init__(self, sorted_ids: np.ndarray, order: np.ndarray, unique: int | None = None):
        self.sorted_ids, self.order = sorted_ids, order
        self._unique = unique
        self._first_mask: np.ndarray | None = None

    @property
    def _first(self) -> np.ndarray:
        # computed on demand: a lookup only touches the pages its binary search visits
        if self._first_mask is None:
            n = len(self.sorted_ids)
            self._first_mask = np.ones(n, dtype=bool)
            if n > 1:
                self._first_mask[1:] = self.sorted_ids[1:] != self.sorted_ids[:-1]
        return self._first_mask

    def rows(self, keys: list[str]) -> np.ndarray:
        """First row of each key, -1 where absent."""
        if not keys:
            return np.zeros(0, dtype=np.int64)
        # no pool id contains NUL (else the dict is used), so a key with one is absent
        has_nul = np.fromiter(("\0" in k for k in keys), dtype=bool, count=len(keys))
        query = np.asarray([k if not nul else "" for k, nul in zip(keys, has_nul)], dtype=str)
        pos = np.searchsorted(self.sorted_ids, query)  # leftmost match = first row (stable sort)
        found = (pos < len(self.sorted_ids)) & ~has_nul
        found[found] = self.sorted_ids[pos[found]] == query[found]
        out = np.full(len(keys), -1, dtype=np.int64)
        out[found] = self.order[pos[found]]
        return out

    def __getitem__(self, key: str) -> int:
        row = int(self.rows([key])[0]) if isinstance(key, str) else -1
        if row < 0:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and int(self.rows([key])[0]) >= 0

    def __len__(self) -> int:
        if self._unique is None:
            self._unique = int(self._first.sum())
        return self._unique

    def __iter__(self):
        firsts = np.flatnonzero(self._first)
        by_row = firsts[np.argsort(self.order[firsts], kind="stable")]
        return iter(self.sorted_ids[by_row].tolist())

    def duplicate_rows(self) -> dict[str, list[int]]:
        n = len(self.sorted_ids)
        if n < 2:
            return {}
        repeated = ~self._first
        if not repeated.any():
            return {}
        starts = np.flatnonzero(self._first)
        out: dict[str, list[int]] = {}
        for pos in np.flatnonzero(repeated):
            start = starts[np.searchsorted(starts, pos, side="right") - 1]
            out.setdefault(str(self.sorted_ids[start]), [int(self.order[start])]).append(int(self.order[pos]))
        return out


def _join(problem: VisionProblem, chosen: ConceptLabels) -> tuple[np.ndarray, np.ndarray]:
    """Inner join of the labels to the pool, in submission order (pandas merge order)."""
    if not problem.duplicate_rows:
        if isinstance(problem.row_of, SortedIdIndex):
            rows = problem.row_of.rows(chosen.ids).astype(np.intp)
        else:
            rows = np.fromiter((problem.row_of[i] for i in chosen.ids), dtype=np.intp, count=len(chosen.ids))
        return rows, chosen.labels.astype(np.int64)
    rows_list: list[int] = []
    labels: list[int] = []
    for image_id, label in zip(chosen.ids, chosen.labels.tolist()):
        matches = problem.duplicate_rows.get(image_id, [problem.row_of[image_id]])
        rows_list += matches
        labels += [label] * len(matches)
    return np.asarray(rows_list, dtype=np.intp), np.asarray(labels, dtype=np.int64)


def _test_label(value: Any, name: str) -> int:
    text = value if isinstance(value, str) else (str(int(value)) if isinstance(value, (int, float)) and
                                                  not isinstance(value, bool) and float(value).is_integer() else None)
    if text not in ("0", "1"):
        raise DataError(f"test_sets/{name}: Confidence must be 0 or 1, found {value!r}")
    return int(text)


def _parse_label(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


def _parse_label_object(content: Any, name: str) -> ConceptLabels:
    if not isinstance(content, dict):
        raise SubmissionError(f"{name}: expected a JSON object {{ImageID: 0|1}}, got {type_name(content)}")
    labels = []
    for image_id, value in content.items():
        label = _parse_label(value)
        if label is None:
            raise SubmissionError(f"{name}: label of ImageID {shorten(image_id)} is {shorten(value)}; labels must be 0 or 1")
        labels.append(label)
    ids = [i.strip() for i in content]
    if any(not i for i in ids):
        raise SubmissionError(f"{name}: empty ImageID")
    return ConceptLabels(ids=ids, labels=np.asarray(labels, dtype=np.int8), source=name)


def _parse_csv(data: bytes, name: str) -> ConceptLabels:
    if not data.strip():
        raise SubmissionError(f"{name} is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{name} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise SubmissionError(f"{name}: not valid CSV ({error})") from None
    header = [h.strip() for h in rows[0]]
    if "ImageID" not in header or "Confidence" not in header:
        raise SubmissionError(f"{name}: the header must name the columns ImageID and Confidence, found "
                              f"{shorten(','.join(rows[0]))}")
    id_col, label_col = header.index("ImageID"), header.index("Confidence")
    ids: list[str] = []
    labels: list[int] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines (Spark's CSV reader skips them too)
        if len(row) <= max(id_col, label_col):
            raise SubmissionError(f"{name}, line {line}: expected {len(header)} columns, found {len(row)}")
        image_id, value = row[id_col].strip(), row[label_col]
        if not image_id:
            raise SubmissionError(f"{name}, line {line}: empty ImageID")
        label = _parse_label(value)
        if label is None:
            raise SubmissionError(f"{name}, line {line}: Confidence of ImageID {shorten(image_id)} is {shorten(value)}; "
                                  "labels must be 0 or 1")
        ids.append(image_id)
        labels.append(label)
    return ConceptLabels(ids=ids, labels=np.asarray(labels, dtype=np.int8), source=name)

"""Test oracle: a deliberately naive, line-by-line re-statement of the official DataPerf evaluators.

Speech: harvard-edge/dataperf-speech-example ``eval.py`` (validate_selected_ids, create_dataset, the
10-seed loop) and ``selection/load_samples.py`` (pandas ``isin`` / ``.loc[...].iloc[0]`` lookups),
minus fire/tqdm/printing. Vision: CoactiveAI/dataperf-vision-selection ``main.py`` + ``eval.py`` +
``utils.py`` with the Spark DataFrames replaced by pandas (CSV read as strings, inner join on
ImageID, lists of Python floats fed to sklearn).

Nothing here is optimised or shared with ``evaluation/``: it is the yardstick our scorers must
equal (to 1e-9) on generated data. It keeps the reference's quirks, including the label shift
when a target key is omitted.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pandas as pd
import sklearn.ensemble
import sklearn.linear_model
import sklearn.svm
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

EVAL_RANDOM_SEEDS = [5, 69, 98, 70, 95, 64, 37, 11, 4, 32]


# ------------------------------------------------------------------------------------------------
# speech: selection/load_samples.py
# ------------------------------------------------------------------------------------------------
def load_samples(sample_ids: Dict[str, Any], embeddings_dir: os.PathLike) -> Dict[str, Any]:
    embeddings_dir = Path(embeddings_dir)
    embeddings = dict(targets={}, nontargets=[])

    for target, id_list in sample_ids["targets"].items():
        embeddings["targets"][target] = []
        target_parquet = pd.read_parquet(embeddings_dir / (target + ".parquet"))
        allowed_ids_mask = target_parquet["clip_id"].isin(id_list)
        for row in target_parquet[allowed_ids_mask].itertuples():
            embeddings["targets"][target].append(dict(ID=row.clip_id, feature_vector=row.mswc_embedding_vector))

    # coalesce nontargets
    keyword_to_samples = {}
    for sample in sample_ids["nontargets"]:
        keyword = Path(sample).parts[0]  # "cat/common_voice_id_12345.wav"
        if keyword not in keyword_to_samples:
            keyword_to_samples[keyword] = []
        keyword_to_samples[keyword].append(sample)
    for keyword, samples in keyword_to_samples.items():
        parquet_file = pd.read_parquet(embeddings_dir / (keyword + ".parquet"))
        for sample in samples:
            row = parquet_file.loc[parquet_file["clip_id"] == sample].iloc[0]
            embeddings["nontargets"].append(dict(ID=row.clip_id, feature_vector=row.mswc_embedding_vector))
    return embeddings


# ------------------------------------------------------------------------------------------------
# speech: eval.py
# ------------------------------------------------------------------------------------------------
def validate_selected_ids(selected_ids, allowed_training_ids, train_set_size_limit):
    groundtruth_targets = set(allowed_training_ids["targets"].keys())
    for target in selected_ids["targets"].keys():
        assert target in groundtruth_targets, f"target {target} not in allowed set"

    groundtruth_target_ids = {target: set(samples) for target, samples in allowed_training_ids["targets"].items()}
    for target, samples in selected_ids["targets"].items():
        assert set(samples).issubset(groundtruth_target_ids[target]), f"{target} contains an ID not in allowed set"

    groundtruth_nontarget_ids = set(allowed_training_ids["nontargets"])
    assert set(selected_ids["nontargets"]).issubset(groundtruth_nontarget_ids), \
        "nontargets contain an ID not in allowed set"

    n_training_samples = sum([len(samples) for samples in selected_ids["targets"].values()]) + len(
        selected_ids["nontargets"])
    assert n_training_samples <= train_set_size_limit, \
        f"{n_training_samples} samples exceeds limit of {train_set_size_limit}"


def create_dataset(embeddings):
    target_to_classid = {target: ix + 1 for ix, target in enumerate(sorted(embeddings["targets"].keys()))}
    target_to_classid["nontarget"] = 0

    target_samples = np.array(
        [sample["feature_vector"] for target, samples in embeddings["targets"].items() for sample in samples])
    target_labels = np.array(
        [target_to_classid[target] for (target, samples) in embeddings["targets"].items() for sample in samples])
    nontarget_samples = np.array([sample["feature_vector"] for sample in embeddings["nontargets"]])
    nontarget_labels = np.zeros(nontarget_samples.shape[0])

    Xs = np.vstack([target_samples, nontarget_samples])
    ys = np.concatenate([target_labels, nontarget_labels])
    return Xs, ys


def speech_reference_scores(data_dir, train_file, train_size: int, eval_random_seeds=EVAL_RANDOM_SEEDS):
    """``eval.py main`` for one language directory; returns the list of per-seed macro F1 scores."""
    data_dir = Path(data_dir)
    eval_embeddings_dir = data_dir / "eval_embeddings"
    train_embeddings_dir = data_dir / "train_embeddings"
    allowed_training_ids = yaml.safe_load((data_dir / "allowed_training_set.yaml").read_text())
    selected_ids = json.loads(Path(train_file).read_text())

    validate_selected_ids(selected_ids, allowed_training_ids, train_size)

    selected_embeddings = load_samples(sample_ids=selected_ids, embeddings_dir=train_embeddings_dir)
    eval_ids = yaml.safe_load((data_dir / "eval.yaml").read_text())
    eval_embeddings = load_samples(sample_ids=eval_ids, embeddings_dir=eval_embeddings_dir)

    train_x, train_y = create_dataset(selected_embeddings)

    scores = []
    for random_seed in eval_random_seeds:
        clf = sklearn.ensemble.VotingClassifier(
            estimators=[
                ("svm", sklearn.svm.SVC(probability=True, random_state=random_seed)),
                ("lr", sklearn.linear_model.LogisticRegression(random_state=random_seed)),
            ],
            voting="soft",
            weights=None,
        )
        clf.fit(train_x, train_y)
        eval_x, eval_y = create_dataset(eval_embeddings)
        pred_y = clf.predict(eval_x)
        scores.append(f1_score(eval_y, pred_y, average="macro"))
    return scores


def speech_reference_score(data_dir, train_file, train_size: int) -> float:
    """The number ``eval.py`` prints (``np.mean`` of the per-seed scores)."""
    return np.mean(speech_reference_scores(data_dir, train_file, train_size))


# ------------------------------------------------------------------------------------------------
# vision: main.py / utils.py / eval.py with pandas instead of Spark
# ------------------------------------------------------------------------------------------------
def _load_emb_df(path, dim):
    df = pd.read_parquet(path)  # a Spark-partitioned directory reads as one table, like ss.read.parquet
    for col in ["embedding", "ImageID"]:
        assert col in df.columns, f'Embedding file does not have "{col}" column'
    actual_dim = len(df["embedding"].iloc[0])
    assert actual_dim == dim, f"Embedding file dim={actual_dim}, but setup file specifies dim={dim}"
    # Spark's toPandas() yields array columns as lists of Python floats.
    df["embedding"] = [list(map(float, e)) for e in df["embedding"]]
    return df


def _load_train_df(path):
    df = pd.read_csv(path, dtype=str, keep_default_na=False)  # Spark CSV with header: every column a string
    for col in ["Confidence", "ImageID"]:
        assert col in df.columns, f'{path}: Train file does not have "{col}" column'
    return df


def _add_emb_col(df, emb_df):
    emb_df = emb_df[["ImageID", "embedding"]]
    return df.merge(emb_df, on="ImageID", how="inner")  # train_df.join(emb_df, 'ImageID')


def _load_test_df(path, dim):
    df = pd.read_parquet(path)
    for col in ["Confidence", "ImageID"]:
        assert col in df.columns, f'{path}: Train file does not have "{col}" column'
    assert len(df["embedding"].iloc[0]) == dim
    df["embedding"] = [list(map(float, e)) for e in df["embedding"]]
    df["Confidence"] = df["Confidence"].astype(str)
    return df


def get_trained_classifier(df, clf=None):
    clf = LogisticRegression(random_state=0) if clf is None else clf
    X = df["embedding"].values.tolist()
    y = df["Confidence"].values.tolist()
    return clf.fit(X, y)


def score_classifier(df, clf):
    X = df["embedding"].values.tolist()
    y = df["Confidence"].values.tolist()
    y_pred = clf.predict(X).tolist()
    scores = {}
    scores["accuracy"] = accuracy_score(y, y_pred)
    scores["recall"] = recall_score(y, y_pred, pos_label="1")
    scores["precision"] = precision_score(y, y_pred, pos_label="1")
    scores["f1"] = f1_score(y, y_pred, pos_label="1")
    return scores


def vision_reference_scores(data_dir, train_sets: Dict[str, os.PathLike], dim: int) -> Dict[str, dict]:
    """``main.py run_tasks``: ``train_sets`` maps task -> CSV path (``task_setup.yaml``)."""
    data_dir = Path(data_dir)
    emb_df = _load_emb_df(data_dir / "embeddings" / "train_emb_256_dataperf.parquet", dim)
    task_scores = {}
    for task, train_path in train_sets.items():
        train_df = _add_emb_col(_load_train_df(train_path), emb_df)
        test_df = _load_test_df(data_dir / "test_sets" / f"alpha_test_set_{task}_256.parquet", dim)
        clf = get_trained_classifier(train_df)
        task_scores[task] = score_classifier(test_df, clf)
    return task_scores

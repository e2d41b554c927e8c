"""The DataPerf 2023 vision-debugging classifier (DS3Lab/dataperf-vision-debugging app/classifier.py).

Linear(d, 128) -> Linear(128, 1) with no activation, ``torch.manual_seed(42)`` before construction,
AdamW(lr=0.01, weight_decay=0.9), 20 epochs of batch 64 in row order, BCEWithLogits; the decision
threshold is the first of ``np.arange(0.1, 1, 0.05)`` with the strictly best 2-dp train accuracy;
accuracy is rounded to 2 dp. Re-implemented operation by operation (same dtypes, same batch
contents, same comparisons) so accuracies are identical, without the reference's per-step table
round trips. torch is in ``requirements.txt``; it is imported lazily (the rest of the library works without it).
"""
from __future__ import annotations

import numpy as np

from .base import DataError

EPOCHS, LR, BATCH_SIZE, WEIGHT_DECAY, SEED = 20, 0.01, 64, 0.9, 42


def require_torch():
    try:
        import torch
    except ImportError:
        raise DataError("this benchmark uses the DataPerf torch model, but torch is not installed "
                        "(pip install -r requirements.txt)") from None
    return torch


class ReferenceScorer:
    """Test accuracy (2 dp) of the reference model trained on fixed features with given labels."""

    def __init__(self, X_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, threads: int | None = 1):
        torch = self.torch = require_torch()
        if threads:
            torch.set_num_threads(threads)
        self.X = torch.tensor(np.asarray(X_train, dtype=np.float32))
        # DataLoader(shuffle=False) batches are fresh contiguous copies of consecutive rows.
        self.batches = [self.X[start:start + BATCH_SIZE].clone() for start in range(0, len(self.X), BATCH_SIZE)]
        self.X_test = torch.tensor(np.asarray(X_test)).float()
        self.y_test = np.asarray(y_test).ravel()
        self.thresholds = list(np.arange(0.1, 1, 0.05))
        self.n_features = self.X.shape[1]

    def _new_model(self):
        torch, nn = self.torch, self.torch.nn
        torch.manual_seed(SEED)
        model = nn.Sequential()
        model.fc1 = nn.Linear(self.n_features, 128)  # created in the reference's order: fc1, then fc2
        model.fc2 = nn.Linear(128, 1)
        return model

    @staticmethod
    def _predict(scores, threshold) -> np.ndarray:
        # The reference's two np.where calls (the first compares in torch, i.e. in float32).
        output = np.where(scores <= threshold, 0, scores)
        output = np.where(output > threshold, 1, output)
        return output.ravel()

    def accuracy(self, labels: np.ndarray) -> float:
        torch = self.torch
        y = torch.tensor(np.asarray(labels, dtype=np.float32).reshape(-1, 1))
        y_batches = [y[start:start + BATCH_SIZE].clone() for start in range(0, len(y), BATCH_SIZE)]
        model = self._new_model()
        criterion = torch.nn.BCEWithLogitsLoss()
        optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        model.train(True)
        for _ in range(EPOCHS):
            for x_batch, y_batch in zip(self.batches, y_batches):
                optimizer.zero_grad()
                loss = criterion(model(x_batch).reshape(y_batch.shape), y_batch)
                loss.backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            train_scores = torch.sigmoid(model(self.X))
            test_scores = torch.sigmoid(model(self.X_test))
        train_labels = y.ravel().numpy()
        best_accuracy, best_threshold = 0, 0
        for threshold in self.thresholds:
            accuracy = round((self._predict(train_scores, threshold) == train_labels).mean(), 2)
            if accuracy > best_accuracy:
                best_accuracy, best_threshold = accuracy, threshold
        return float(round((self._predict(test_scores, best_threshold) == self.y_test).mean(), 2))

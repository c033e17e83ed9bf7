"""Temperature scaling (Guo et al., 2017): one scalar T fitted on held-out real data so that softmax(logits / T)
is as likely as possible there. It keeps every prediction's class and changes only how sure the checker is, which
is what a ratio of two checkers' probabilities (IMP's P'/Q) is sensitive to."""

from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> float:
    """The T > 0 minimising the mean negative log-likelihood of `labels` under softmax(logits / T)."""
    logits_t = torch.as_tensor(logits, dtype=torch.float64)
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def nll():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), labels_t)
        loss.backward()
        return loss

    optimizer.step(nll)
    return float(log_t.detach().exp().clamp(1e-2, 1e2))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return torch.as_tensor(logits, dtype=torch.float64).div(temperature).softmax(-1).numpy()

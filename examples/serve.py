"""Serving side: load the latest version in a fresh process and predict.

``modelver.load`` resolves ``name@latest``, checks every byte against its digest and rebuilds the model from a
safe format (skops), so nothing from the store is unpickled.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer

import modelver

NAME = "breast-cancer-classifier"


def main() -> None:
    """Resolve, verify, load and predict on three rows of each class."""
    version = modelver.get(f"{NAME}@latest")
    model = version.load()
    data = load_breast_cancer(as_frame=True)
    sample = data.frame.groupby("target").head(3)
    predictions = model.predict(sample.drop(columns="target"))
    print(f"loaded {version.ref} ({version.digest[:23]}…)")
    print(f"predicted: {[str(data.target_names[p]) for p in predictions]}")
    print(f"true:      {[str(data.target_names[t]) for t in sample['target']]}")


if __name__ == "__main__":
    main()

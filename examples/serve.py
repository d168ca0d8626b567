"""Serving side: load the latest version in a fresh process and predict.

``modelver.load`` resolves ``name@latest``, checks every byte against its digest and rebuilds the model from a
safe format (skops), so nothing from the store is unpickled.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer

import modelver

NAME = "breast-cancer-classifier"


def main() -> None:
    """Resolve, verify, load and predict on five rows."""
    version = modelver.get(f"{NAME}@latest")
    model = version.load()
    data = load_breast_cancer(as_frame=True)
    rows = data.frame.drop(columns="target").head(5)
    predictions = model.predict(rows)
    names = [str(data.target_names[p]) for p in predictions]
    print(f"loaded {version.ref} ({version.digest[:23]}…)")
    print(f"predictions for 5 rows: {names}")
    print(f"true labels:            {[str(data.target_names[t]) for t in data.frame['target'].head(5)]}")


if __name__ == "__main__":
    main()

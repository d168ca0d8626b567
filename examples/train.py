"""Train a scikit-learn classifier on the breast-cancer data set that ships with scikit-learn, and version it.

Run from anywhere: ``python examples/train.py``. The version goes to the default store (``modelver info``).
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelver

NAME = "breast-cancer-classifier"
DATA_DIR = Path(__file__).resolve().parent / "data"


def write_dataset() -> Path:
    """Write the data set to CSV, as a real project would read it from disk."""
    frame = load_breast_cancer(as_frame=True).frame
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / "breast_cancer.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    """Train, evaluate and publish one version; print what was captured."""
    import pandas as pd

    csv = write_dataset()
    config = {"model": "logistic_regression", "C": 0.5, "max_iter": 500, "test_size": 0.25, "seed": 7}
    with modelver.track(NAME, config=config, data={"train": csv}) as run:
        frame = pd.read_csv(csv)
        features, target = frame.drop(columns="target"), frame["target"]
        x_train, x_test, y_train, y_test = train_test_split(
            features, target, test_size=config["test_size"], random_state=config["seed"], stratify=target
        )
        model = make_pipeline(StandardScaler(), LogisticRegression(C=config["C"], max_iter=config["max_iter"]))
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
        run.log_metrics({"accuracy": accuracy_score(y_test, predicted), "f1": f1_score(y_test, predicted)})
        run.save_model(model)

    version = run.version
    assert version is not None
    m = version.manifest
    git = m.code.git
    print(f"published {version.ref}  {version.digest}")
    print(f"  store      {version.store.url}")
    if git is not None:
        print(f"  code       {git.commit[:12]} on {git.branch or '(detached)'}, dirty={git.dirty}")
    print(f"  sklearn    {m.environment.packages.get('scikit-learn')} ({len(m.environment.packages)} packages)")
    print(f"  data       train {m.data['train'].digest[:23]}… ({m.data['train'].size_bytes} bytes)")
    print(
        f"  resources  wall {m.resources.wall_time_s:.2f} s, cpu {m.resources.cpu_time_s:.2f} s, "
        f"peak {m.resources.peak_rss_bytes / 2**20:.0f} MiB"
    )
    print(f"  metrics    {', '.join(f'{k}={v:.4f}' for k, v in m.metrics.items() if v is not None)}")
    print(f"  artifacts  {', '.join(m.artifacts)}")
    print(f"see everything: modelver show {version.ref} --json")


if __name__ == "__main__":
    main()

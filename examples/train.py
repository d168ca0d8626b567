"""Train a scikit-learn classifier on the breast-cancer data set that ships with scikit-learn, and version it.

Run from anywhere: ``python examples/train.py``. The version goes to the default store (``modelver info``).

The two pipeline steps are ``@modelver.versioned``: run the script twice and the second run reuses both stored
results without executing them (the code, the data and the arguments are unchanged); edit ``fit`` or the CSV and
the steps that depend on the change run again. ``modelver lineage breast-cancer-classifier`` draws the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import modelver

if TYPE_CHECKING:
    import pandas as pd

NAME = "breast-cancer-classifier"
DATA_DIR = Path(__file__).resolve().parent / "data"


def write_dataset() -> Path:
    """Write the data set to CSV, as a real project would read it from disk (unchanged bytes on a re-run)."""
    path = DATA_DIR / "breast_cancer.csv"
    if not path.exists():
        DATA_DIR.mkdir(exist_ok=True)
        load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


@modelver.versioned
def split(csv: Path, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the CSV and split it into stratified train and test frames (stored as parquet)."""
    import pandas as pd

    frame = pd.read_csv(csv)
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=frame["target"])
    return train, test


@modelver.versioned
def fit(train: pd.DataFrame, c: float, max_iter: int) -> Pipeline:
    """Fit a scaled logistic regression (stored with skops, no pickle)."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    return model.fit(train.drop(columns="target"), train["target"])


def main() -> None:
    """Train, evaluate and publish one version; print what was captured."""
    csv = write_dataset()
    config = {"model": "logistic_regression", "C": 0.5, "max_iter": 500, "test_size": 0.25, "seed": 7}
    with modelver.track(NAME, config=config, data={"train": csv}) as run:
        train, test = split(csv, config["test_size"], config["seed"])
        model = fit(train, config["C"], config["max_iter"])
        predicted = model.predict(test.drop(columns="target"))
        run.log_metrics(
            {"accuracy": accuracy_score(test["target"], predicted), "f1": f1_score(test["target"], predicted)}
        )
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
    for step in m.lineage.steps:
        print(f"  step       {step.name}: {'reused the stored result' if step.cached else 'ran'}")
    print(
        f"  resources  wall {m.resources.wall_time_s:.2f} s, cpu {m.resources.cpu_time_s:.2f} s, "
        f"peak {m.resources.peak_rss_bytes / 2**20:.0f} MiB"
    )
    print(f"  metrics    {', '.join(f'{k}={v:.4f}' for k, v in m.metrics.items() if v is not None)}")
    print(f"  artifacts  {', '.join(m.artifacts)}")
    print(f"see everything: modelver show {version.ref} --json; the steps: modelver lineage {version.ref}")


if __name__ == "__main__":
    main()

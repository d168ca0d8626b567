"""Round trips of every built-in format with the real libraries, each loaded back in a fresh process."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pyarrow as pa
import pytest
import safetensors.numpy
import torch
from onnx import TensorProto, helper
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelver
from helpers import run_python
from modelver import FormatError, Prompt, UnsafeFormatError

TINYNET = '''
import torch


class TinyNet(torch.nn.Module):
    """Two linear layers; the constructor config comes back from get_config()."""

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.hidden = hidden
        self.first = torch.nn.Linear(3, hidden)
        self.second = torch.nn.Linear(hidden, 2)

    def get_config(self):
        return {"hidden": self.hidden}

    def forward(self, x):
        return self.second(torch.relu(self.first(x)))
'''


def fresh(tmp_path: Path, body: str) -> str:
    """Run ``body`` (which may ``import modelver``) in a new interpreter with ``tmp_path`` importable; its stdout."""
    script = tmp_path / "load_it.py"
    script.write_text(textwrap.dedent(body))
    return run_python(script, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}).stdout


def formats_of(ref: str) -> dict[str, tuple[str, str]]:
    """Artifact path to (format, media type) as recorded in the manifest."""
    return {p: (a.format, a.media_type) for p, a in modelver.get(ref).manifest.artifacts.items()}


def test_sklearn_pipeline_loads_in_a_fresh_process_and_predicts_the_same(tmp_path: Path) -> None:
    """A scaler + logistic regression pipeline is stored as skops and predicts identically after load."""
    x, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y)
    with modelver.track("iris") as run:
        run.save_model(pipeline)
    assert {"model.skops": ("skops", "application/x-skops")} == formats_of("iris@0.1.0")
    out = fresh(
        tmp_path,
        """
        import json, modelver
        from sklearn.datasets import load_iris
        x, _ = load_iris(return_X_y=True)
        print(json.dumps(modelver.load("iris@0.1.0").predict_proba(x).tolist()))
        """,
    )
    assert pipeline.predict_proba(x).tolist() == json.loads(out)


def test_the_same_fitted_model_saved_in_two_processes_has_one_digest(tmp_path: Path) -> None:
    """skops names arrays after id() and stamps the time; the stored bytes do not depend on either, so a model
    published again (or reused from a step cache and saved) is deduplicated, and the loaded copy still predicts."""
    body = """
        import modelver
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        x, y = load_iris(return_X_y=True)
        with modelver.track("iris") as run:
            run.save_model(make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y))
        """
    fresh(tmp_path, body)
    fresh(tmp_path, body)
    first, second = (modelver.get(f"iris@0.1.{patch}").manifest.artifacts["model.skops"] for patch in (0, 1))
    x, y = load_iris(return_X_y=True)
    expected = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y).predict_proba(x)

    assert first.digest == second.digest
    assert expected.tolist() == modelver.load("iris@0.1.1").predict_proba(x).tolist()


def test_torch_module_is_rebuilt_in_a_fresh_process_with_identical_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """safetensors weights + import path + constructor config rebuild the module; outputs match bit for bit."""
    (tmp_path / "tinynet.py").write_text(TINYNET)
    monkeypatch.syspath_prepend(str(tmp_path))
    import tinynet  # the module file written above

    torch.manual_seed(0)
    net = tinynet.TinyNet(hidden=5).eval()
    with modelver.track("net") as run:
        run.save_model(net)
    assert "torch" == formats_of("net@0.1.0")["model.safetensors"][0]
    x = torch.linspace(-1, 1, 12).reshape(4, 3)
    out = fresh(
        tmp_path,
        """
        import json, torch, modelver
        import tinynet  # the caller imports the class: modelver may then rebuild it
        net = modelver.load("net@0.1.0")
        x = torch.linspace(-1, 1, 12).reshape(4, 3)
        print(json.dumps({"type": type(net).__name__, "hidden": net.hidden, "training": net.training,
                          "y": net(x).tolist()}))
        """,
    )
    with torch.no_grad():
        expected = net(x).tolist()
    assert {"type": "TinyNet", "hidden": 5, "training": False, "y": expected} == json.loads(out)


def test_torch_class_not_imported_gives_the_state_dict_unless_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class the caller did not import is not imported for it: state dict + warning; trusted=[...] rebuilds."""
    (tmp_path / "tinynet2.py").write_text(TINYNET)
    monkeypatch.syspath_prepend(str(tmp_path))
    import tinynet2

    net = tinynet2.TinyNet()
    with modelver.track("net") as run:
        run.save_model(net)
    out = fresh(
        tmp_path,
        """
        import json, sys, warnings, modelver
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = modelver.load("net@0.1.0")
        imported_before_trust = "tinynet2" in sys.modules
        rebuilt = modelver.load("net@0.1.0", trusted=["tinynet2.TinyNet"])
        print(json.dumps({"keys": sorted(state), "warning": str(caught[0].message), "imported": imported_before_trust,
                          "rebuilt": type(rebuilt).__name__}))
        """,
    )
    result = json.loads(out)
    assert (sorted(net.state_dict()), False, "TinyNet") == (result["keys"], result["imported"], result["rebuilt"])
    assert "trusted=['tinynet2.TinyNet']" in result["warning"]


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # TorchScript is deprecated in torch 2.13
def test_torchscript_needs_allow_pickle() -> None:
    """A ScriptModule carries code: saving and loading it need the opt-in."""
    scripted = torch.jit.script(torch.nn.Linear(2, 1))
    with modelver.track("ts") as run:
        with pytest.raises(UnsafeFormatError, match="torchscript"):
            run.save_model(scripted)
        run.save_model(scripted, allow_pickle=True)
    with pytest.raises(UnsafeFormatError, match="allow_pickle=True"):
        modelver.load("ts@0.1.0")
    loaded = modelver.load("ts@0.1.0", allow_pickle=True)
    x = torch.ones(1, 2)
    assert scripted(x).tolist() == loaded(x).tolist()


def _transformers_style(directory: Path) -> dict[str, str]:
    """Write config.json, tokenizer files and model.safetensors as save_pretrained does; their sha256 by name."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 4}))
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (directory / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\nworld\n")
    safetensors.numpy.save_file(
        {"embeddings.weight": np.arange(16, dtype=np.float32).reshape(4, 4)}, str(directory / "model.safetensors")
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


class TinyPretrained:
    """Stands in for a transformers model: it has save_pretrained(directory), which is all the format uses."""

    def save_pretrained(self, directory: Path) -> None:
        """Write the files from_pretrained would read."""
        _transformers_style(Path(directory))


def test_transformers_style_directory_loads_as_a_path_and_through_a_loader(tmp_path: Path) -> None:
    """save_pretrained output is stored a blob per file and comes back as a verified local directory."""
    expected = _transformers_style(tmp_path / "expected")
    with modelver.track("hf") as run:
        assert "model" == run.save_model(TinyPretrained())
    recorded = formats_of("hf@0.1.0")
    assert {f"model/{name}" for name in expected} == set(recorded)
    assert {"directory"} == {fmt for fmt, _ in recorded.values()}
    assert "application/json" == recorded["model/config.json"][1]
    out = fresh(
        tmp_path,
        """
        import hashlib, json, modelver
        path = modelver.load("hf@0.1.0")
        files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir()}
        config = modelver.load("hf@0.1.0", loader=lambda p: json.loads((p / "config.json").read_text()))
        print(json.dumps({"files": files, "config": config}))
        """,
    )
    assert {"files": expected, "config": {"model_type": "tiny", "hidden_size": 4}} == json.loads(out)


def test_a_local_directory_saves_file_by_file_and_identical_files_dedup(tmp_path: Path) -> None:
    """Two versions sharing a weights file store its blob once; a re-save under the same name replaces the tree."""
    source = tmp_path / "ckpt"
    _transformers_style(source)
    with modelver.track("dir") as run:
        run.save_model(source, name="model")
    (source / "config.json").write_text("{}")
    (source / "vocab.txt").unlink()
    with modelver.track("dir") as run:
        run.save_model(source, name="model")
    first = modelver.get("dir@0.1.0").manifest.artifacts
    second = modelver.get("dir@0.1.1").manifest.artifacts
    assert first["model/model.safetensors"].digest == second["model/model.safetensors"].digest
    assert "model/vocab.txt" not in second
    assert b"{}" == (modelver.load("dir@0.1.1") / "config.json").read_bytes()


def _tiny_onnx() -> onnx.ModelProto:
    """y = x @ W + b for a 3x2 W, built with onnx.helper (no download)."""
    weight = helper.make_tensor("W", TensorProto.FLOAT, [3, 2], [0.5, -1.0, 2.0, 0.25, -0.5, 1.5])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.1, -0.2])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def test_onnx_file_loads_as_a_model_proto_and_runs_through_onnxruntime(tmp_path: Path) -> None:
    """The ModelProto comes back byte-identical; loader=InferenceSession runs it on the verified local file."""
    model = _tiny_onnx()
    with modelver.track("lin") as run:
        run.save_model(model)
    assert {"model.onnx": ("onnx", "application/onnx")} == formats_of("lin@0.1.0")
    out = fresh(
        tmp_path,
        """
        import json, numpy as np, onnxruntime, modelver
        proto = modelver.load("lin@0.1.0")
        session = modelver.load("lin@0.1.0", loader=lambda p: onnxruntime.InferenceSession(str(p)))
        x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
        print(json.dumps({"bytes": proto.SerializeToString().hex(), "y": session.run(None, {"x": x})[0].tolist()}))
        """,
    )
    result = json.loads(out)
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    weight = np.array([[0.5, -1.0], [2.0, 0.25], [-0.5, 1.5]], dtype=np.float32)
    expected = (x @ weight + np.array([0.1, -0.2], dtype=np.float32)).tolist()
    assert model.SerializeToString().hex() == result["bytes"]
    assert expected[0] == pytest.approx(result["y"][0], rel=1e-6)


def test_parquet_table_keeps_index_and_dtypes_in_a_fresh_process(tmp_path: Path) -> None:
    """A DataFrame comes back as a DataFrame (index, dtypes, values); a pyarrow Table as a Table."""
    frame = pd.DataFrame(
        {
            "n": np.array([1, 2, 3], dtype=np.int32),
            "x": [0.5, np.nan, 2.25],
            "s": ["a", "é", None],
            "c": pd.Categorical(["lo", "hi", "lo"]),
            "t": pd.to_datetime(["2026-01-01", "2026-06-30", "2026-11-29"], utc=True),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    table = pa.table({"k": [1, 2], "v": ["x", "y"]})
    with modelver.track("tab") as run:
        run.save_model(frame, name="frame")
        run.save_model(table, name="arrow")
    assert ("parquet", "application/vnd.apache.parquet") == formats_of("tab@0.1.0")["frame.parquet"]
    out = fresh(
        tmp_path,
        """
        import json, modelver
        frame = modelver.load("tab@0.1.0", name="frame")
        table = modelver.load("tab@0.1.0", name="arrow")
        print(json.dumps({"frame": frame.to_json(orient="split", date_format="iso"),
                          "dtypes": {k: str(v) for k, v in frame.dtypes.items()}, "index": frame.index.name,
                          "table": [type(table).__name__, table.to_pylist()]}))
        """,
    )
    result = json.loads(out)
    assert frame.to_json(orient="split", date_format="iso") == result["frame"]
    assert ({k: str(v) for k, v in frame.dtypes.items()}, "id") == (result["dtypes"], result["index"])
    assert ["Table", table.to_pylist()] == result["table"]


def test_prompts_and_configs_load_as_data_in_a_fresh_process(tmp_path: Path) -> None:
    """A version of prompts and a RAG config loads as a mapping of plain values; templates are only substituted."""
    template = "You answer questions about {product}.\nContext:\n{context}\nLiteral {{braces}} stay."
    rag = {"retriever": {"k": 4, "index": "s3://docs/index"}, "chunk_size": 512}
    with modelver.track("support-bot", version="2.1.0") as run:
        assert "system.prompt.json" == run.save_prompt("system", template, variables=["product", "context"])
        assert "rag.json" == run.save_config("rag", rag)
    recorded = formats_of("support-bot@2.1.0")
    assert ("prompt", "application/vnd.modelver.prompt+json") == recorded["system.prompt.json"]
    out = fresh(
        tmp_path,
        """
        import json, modelver
        loaded = modelver.load("support-bot@2.1.0")
        system = loaded["system"]
        print(json.dumps({"keys": sorted(loaded), "variables": list(system.variables), "rag": loaded["rag"],
                          "text": system.render(product="modelver", context="{product.__class__}")}))
        """,
    )
    expected_text = "You answer questions about modelver.\nContext:\n{product.__class__}\nLiteral {braces} stay."
    assert {
        "keys": ["rag", "system"],
        "variables": ["product", "context"],
        "rag": rag,
        "text": expected_text,
    } == json.loads(out)


def test_yaml_and_text_round_trip() -> None:
    """Forced YAML is read with safe_load; a str is stored as UTF-8 text."""
    with modelver.track("cfg") as run:
        run.save_config("pipeline", {"steps": ["embed", "rank"], "top_k": 3}, format="yaml")
        run.save_model("Be brief. Cite sources.", name="system")
    assert ("yaml", "application/yaml") == formats_of("cfg@0.1.0")["pipeline.yaml"]
    assert {"pipeline": {"steps": ["embed", "rank"], "top_k": 3}, "system": "Be brief. Cite sources."} == (
        modelver.load("cfg@0.1.0")
    )


def test_a_forced_format_that_does_not_fit_is_a_format_error() -> None:
    """Forcing parquet on a dict, or an unknown format, says what fits."""
    with modelver.track("m") as run:
        with pytest.raises(FormatError, match="pandas DataFrame or pyarrow Table"):
            run.save_model({"a": 1}, format="parquet")
        with pytest.raises(FormatError, match="unknown format 'nope'"):
            run.save_model({"a": 1}, format="nope")
        with pytest.raises(FormatError, match="variables"):
            run.save_prompt("p", "Hello {name}", variables=["user"])
        run.save_model({"a": 1})


def test_prompt_objects_are_values() -> None:
    """Prompt is a frozen value: equal templates are equal prompts, and a missing variable is a KeyError."""
    prompt = Prompt("Hi {name}", ("name",))
    assert Prompt("Hi {name}", ("name",)) == prompt
    with pytest.raises(KeyError, match="name"):
        prompt.render()


class Tied(torch.nn.Module):
    """Tied input/output embeddings and a non-persistent buffer: both must survive a load."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(5, 3)
        self.out = torch.nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(2.0), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Embed, scale, project back with the same weights."""
        return self.out(self.embed(ids) * self.scale)


def test_tied_weights_and_non_persistent_buffers_survive_the_rebuild() -> None:
    """The fast meta-device path is not taken where it would untie weights or lose a buffer; outputs match."""
    torch.manual_seed(1)
    model = Tied().eval()
    with modelver.track("tied") as run:
        run.save_model(model)
    loaded = modelver.load("tied@0.1.0")
    ids = torch.tensor([0, 3, 4])
    with torch.no_grad():
        assert model(ids).tolist() == loaded(ids).tolist()
    assert loaded.out.weight is loaded.embed.weight
    assert 2.0 == loaded.scale.item()


class Head(torch.nn.Linear):
    """A Linear layer whose constructor needs no arguments."""

    def __init__(self) -> None:
        super().__init__(4, 2)


def test_loaded_weights_are_writable_and_train() -> None:
    """The zero-copy tensors are ordinary writable parameters: an optimiser step changes them."""
    with modelver.track("train") as run:
        run.save_model(Head())
    loaded = modelver.load("train@0.1.0")  # this test module is imported: Head can be rebuilt
    before = loaded.weight.detach().clone()
    optimiser = torch.optim.SGD(loaded.parameters(), lr=0.1)
    loaded.train()
    loaded(torch.ones(3, 4)).sum().backward()
    optimiser.step()
    assert not torch.equal(before, loaded.weight.detach())
    assert all(p.requires_grad for p in loaded.parameters())


def test_a_module_its_config_cannot_rebuild_is_stored_as_a_state_dict_with_a_warning() -> None:
    """Sequential(**{}) is empty and Linear(**{}) is refused: saving says so, and load returns the weights."""
    with modelver.track("lin") as run, pytest.warns(UserWarning, match="stored as a state dict"):
        run.save_model(torch.nn.Linear(4, 2))
    assert ["bias", "weight"] == sorted(modelver.load("lin@0.1.0"))
    model = torch.nn.Sequential(torch.nn.Linear(4, 2))
    with modelver.track("seq") as run, pytest.warns(UserWarning, match="stored as a state dict"):
        run.save_model(model)
    loaded = modelver.load("seq@0.1.0")
    assert model.state_dict()["0.weight"].tolist() == loaded["0.weight"].tolist()


def test_a_state_dict_round_trips_as_a_dict_of_tensors() -> None:
    """A plain dict of tensors has no class to rebuild: it loads as the same dict, dtypes included."""
    state = {
        "w": torch.arange(6, dtype=torch.float16).reshape(2, 3),
        "b": torch.tensor([True, False]),
        "e": torch.empty(0, 4, dtype=torch.bfloat16),
    }
    with modelver.track("sd") as run:
        run.save_model(state, name="weights")
    loaded = modelver.load("sd@0.1.0")
    assert {k: (v.dtype, v.shape, v.tolist()) for k, v in state.items()} == {
        k: (v.dtype, v.shape, v.tolist()) for k, v in loaded.items()
    }


def test_files_already_in_a_format_are_stored_as_they_are(tmp_path: Path) -> None:
    """An exported .onnx file is an onnx artifact; a .pkl needs the opt-in; an unknown suffix points to log_artifact."""
    exported = tmp_path / "exported.onnx"
    onnx.save_model(_tiny_onnx(), str(exported))
    (tmp_path / "old.pkl").write_bytes(b"\x80\x05N.")
    (tmp_path / "weights.bin").write_bytes(b"\x00")
    with modelver.track("files") as run:
        assert "model.onnx" == run.save_model(exported)
        with pytest.raises(UnsafeFormatError, match="allow_pickle=True"):
            run.save_model(tmp_path / "old.pkl", name="old")
        with pytest.raises(FormatError, match="log_artifact"):
            run.save_model(tmp_path / "weights.bin", name="weights")
    entry = modelver.get("files@0.1.0").manifest.artifacts["model.onnx"]
    assert ("onnx", exported.stat().st_size) == (entry.format, entry.size_bytes)
    assert _tiny_onnx().SerializeToString() == modelver.load("files@0.1.0").SerializeToString()


def test_loading_a_plain_file_points_to_download(tmp_path: Path) -> None:
    """A file stored with log_artifact has no format to load; the error says to download it."""
    (tmp_path / "readme.md").write_text("# notes")
    with modelver.track("notes") as run:
        run.log_artifact(tmp_path / "readme.md")
        run.save_model({"k": 1})
    with pytest.raises(modelver.InvalidReferenceError, match=r"readme\.md is a plain file; use \.download"):
        modelver.load("notes@0.1.0", name="readme")
    assert {"k": 1} == modelver.load("notes@0.1.0")

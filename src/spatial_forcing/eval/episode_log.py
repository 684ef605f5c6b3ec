"""The episodes log beside an evaluation's JSON: one line per finished episode, the record resume reads.

Each line names the policy and the protocol (`config.PROTOCOL_FIELDS`) that produced it, so that a run
resumed into the same file with another policy or protocol is refused instead of counting episodes that
were not its own under its label.

The policy key of an exported policy directory is a digest of its files. An action function has no
files: its key is its qualified name unless the caller gives one, which it must when the same function
can stand for different weights (a `LoadedPolicy.act`, for instance: `weights_digest` of its model).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import torch

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.jsonl import append_jsonl, read_jsonl


def policy_digest(policy_dir: str | Path) -> str:
    """'sha256:<16 hex>' over the names and bytes of the files of an exported policy directory."""
    root = Path(policy_dir)
    if not root.is_dir():
        raise SFError(f"--policy {root}: not a directory (expected an exported policy, run_dir/policy)")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return "sha256:" + digest.hexdigest()[:16]


def weights_digest(model: torch.nn.Module, extra: object = None) -> str:
    """'weights:<16 hex>' over a model's state_dict (names, dtypes, shapes, bytes) and the JSON of `extra`
    (what else shapes its actions: normalisation stats, cameras), for a policy held in memory."""
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True, default=_plain).encode())
    for name, t in sorted(model.state_dict().items()):
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.detach().reshape(-1).contiguous().view(torch.uint8).cpu().numpy().tobytes())
    return "weights:" + digest.hexdigest()[:16]


def _plain(obj: object) -> object:
    return obj.tolist() if hasattr(obj, "tolist") else str(obj)  # arrays in full (str() elides them)


def episodes_path(out_json: str | Path) -> Path:
    """The episodes log beside an evaluation's results JSON: `<stem>.episodes.jsonl`."""
    out_json = Path(out_json)
    return out_json.with_name(out_json.stem + ".episodes.jsonl")


def callable_key(act: Callable) -> str:
    """'callable:<module>.<qualname>' of an action function (of the class for a callable object)."""
    fn = getattr(act, "__func__", act)  # a bound method: its function
    if not hasattr(fn, "__qualname__"):
        fn = type(fn)
    return f"callable:{fn.__module__}.{fn.__qualname__}"


class EpisodeLog:
    """Finished episodes of one (policy, protocol), read from and appended to `path`."""

    def __init__(self, path: Path, policy: str, protocol: dict) -> None:
        self.path, self.policy = Path(path), policy
        self.protocol = json.loads(json.dumps(protocol))  # as read back: tuples become lists, keys strings

    @staticmethod
    def key(task_id: int, init_state: int) -> str:
        return f"{task_id}:{init_state}"

    def load(self) -> dict[str, dict]:
        """Episode key -> record; SFError if any record is of another policy or protocol."""
        done: dict[str, dict] = {}
        for rec in read_jsonl(self.path):
            self._check(rec)
            done[self.key(rec["task_id"], rec["init_state"])] = rec
        return done

    def append(self, rec: dict) -> dict:
        """Log one finished episode (with this log's policy and protocol); returns the logged record."""
        rec = {**rec, "policy": self.policy, "protocol": self.protocol}
        append_jsonl(self.path, rec)
        return rec

    def _check(self, rec: dict) -> None:
        fix = "give another --out, or delete it to evaluate from scratch"
        if not isinstance(rec, dict) or "policy" not in rec or "protocol" not in rec:
            raise SFError(f"{self.path}: holds episodes logged without their policy and protocol "
                          f"(by an older sf); {fix}")
        if rec["policy"] != self.policy:
            raise SFError(f"{self.path}: holds episodes of another policy ({rec['policy']}, this one is "
                          f"{self.policy}); {fix}")
        changed = sorted(k for k in set(rec["protocol"]) | set(self.protocol)
                         if rec["protocol"].get(k) != self.protocol.get(k))
        if changed:
            was = ", ".join(f"{k} {rec['protocol'].get(k)!r} -> {self.protocol.get(k)!r}" for k in changed)
            raise SFError(f"{self.path}: holds episodes of another protocol ({was}); {fix}")

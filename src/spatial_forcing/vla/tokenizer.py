"""Word-level tokenizer built offline from the task instructions; stored as JSON next to a checkpoint."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import torch

from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"
SPECIALS = (PAD, UNK, BOS)  # ids 0, 1, 2
_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")  # runs of letters/digits, or one punctuation character
FORMAT = "spatial_forcing.word_tokenizer/1"


def split_words(text: str) -> list[str]:
    """Lowercase and split into words and single punctuation marks: "Put it, now!" -> put it , now !"""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Maps words to ids; ids 0/1/2 are pad/unk/bos. Unknown words map to unk."""

    def __init__(self, words: Sequence[str]) -> None:
        vocab = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        if len(set(vocab)) != len(vocab):
            raise SFError("tokenizer: vocabulary has duplicate words")
        self.vocab: list[str] = vocab
        self.index: dict[str, int] = {w: i for i, w in enumerate(vocab)}

    pad_id, unk_id, bos_id = 0, 1, 2

    @classmethod
    def build(cls, instructions: Iterable[str]) -> "WordTokenizer":
        """Vocabulary = sorted set of the words in `instructions` (deterministic for a given task list)."""
        words = sorted({w for text in instructions for w in split_words(text)})
        return cls(words)

    def __len__(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[int]:
        """Ids of one text, no padding, no BOS."""
        return [self.index.get(w, self.unk_id) for w in split_words(text)]

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch -> (ids LongTensor [B, max_len], mask BoolTensor [B, max_len]); right-padded, truncated."""
        if isinstance(texts, str):
            raise SFError("tokenizer.encode: expected a list of instructions, got a single string")
        ids = torch.full((len(texts), max_len), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), max_len), dtype=torch.bool)
        for row, text in enumerate(texts):
            toks = self.tokenize(text)[:max_len]
            ids[row, : len(toks)] = torch.tensor(toks, dtype=torch.long)
            mask[row, : len(toks)] = True
        return ids, mask

    def decode(self, ids: Sequence[int]) -> str:
        """Space-joined words, pads dropped (for logs and tests)."""
        return " ".join(self.vocab[i] for i in ids if i != self.pad_id)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "vocab": self.vocab})

    @classmethod
    def from_json(cls, text: str) -> "WordTokenizer":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SFError(f"tokenizer: invalid JSON ({exc})") from None
        ok = isinstance(data, dict) and data.get("format") == FORMAT
        if not ok or list(data.get("vocab", [])[: len(SPECIALS)]) != list(SPECIALS):
            raise SFError(f"tokenizer: expected a JSON object with format {FORMAT!r} and a vocab starting "
                          f"{list(SPECIALS)}")
        return cls(data["vocab"][len(SPECIALS):])

    def save(self, path: str | os.PathLike) -> None:
        """Write tokenizer JSON atomically."""
        write_json(path, json.loads(self.to_json()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "WordTokenizer":
        path = Path(path)
        if not path.is_file():
            raise SFError(f"tokenizer: {path} does not exist; expected the tokenizer.json saved with the "
                          "checkpoint")
        return cls.from_json(path.read_text())

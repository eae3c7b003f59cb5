"""The 16-token vocabulary of the NVARC dialog format and its table file.

Token ids in the standard order: 0-9 are the ten colors, 10 the newline that ends a
grid row, 11 `user`, 12 `assistant`, 13 `<|endoftext|>` (pad), 14 `<|im_start|>` and
15 `<|im_end|>` (end of a turn, the EOS token).
"""

import json
from dataclasses import dataclass
from pathlib import Path

TOKEN_TEXTS: tuple[str, ...] = (
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    "\n", "user", "assistant", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
)
"""Token texts in id order; the index of a text is its id in models made by create_model."""

VOCAB_SIZE = len(TOKEN_TEXTS)
NEWLINE_TOKEN_ID = 10
USER_TOKEN_ID = 11
ASSISTANT_TOKEN_ID = 12
PAD_TOKEN_ID = 13
IM_START_TOKEN_ID = 14
EOS_TOKEN_ID = 15

TOKEN_TABLE_FILE = "nvarc_tokens.json"
"""Name of the token table file inside a model directory."""


@dataclass(frozen=True)
class TokenEntry:
    """One row of a model's token table: the token text and its id in the vocabulary."""

    text: str
    id: int


class TokenTableError(ValueError):
    """Raised when a model directory's token table is missing or is not the 16-token table."""


def write_token_table(model_dir: Path) -> Path:
    """Write `nvarc_tokens.json` with the standard 16-token table into `model_dir`."""
    path = model_dir / TOKEN_TABLE_FILE
    document = {
        "tokens": [{"id": token_id, "text": text} for token_id, text in enumerate(TOKEN_TEXTS)],
        "eos_token_id": EOS_TOKEN_ID,
        "pad_token_id": PAD_TOKEN_ID,
        "bos_token_id": None,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def read_token_table(model_dir: Path) -> list[TokenEntry]:
    """Read and validate `nvarc_tokens.json` of `model_dir`.

    The table must list each of the 16 dialog tokens exactly once, with the ids 0..15
    each used once. Entries are returned sorted by id.

    Raises:
        TokenTableError: the file is missing, is not JSON, or is not the 16-token table.
    """
    path = model_dir / TOKEN_TABLE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise TokenTableError(
            f"{path} not found; a model directory needs the 16-token table "
            "(python -m nvarc_sidecar.create_model writes one)"
        ) from error
    except json.JSONDecodeError as error:
        raise TokenTableError(f"{path} is not valid JSON: {error}") from error

    entries = _parse_entries(path, document)
    _check_complete(path, entries)
    return sorted(entries, key=lambda entry: entry.id)


def _parse_entries(path: Path, document: object) -> list[TokenEntry]:
    rows = document.get("tokens") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise TokenTableError(f"{path}: expected an object with a `tokens` list")
    entries = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or type(row.get("id")) is not int:
            raise TokenTableError(f"{path}: tokens[{index}] must be an object with a string `text` and an integer `id`")
        entries.append(TokenEntry(text=row["text"], id=row["id"]))
    return entries


def _check_complete(path: Path, entries: list[TokenEntry]) -> None:
    if len(entries) != VOCAB_SIZE:
        raise TokenTableError(f"{path}: has {len(entries)} tokens, expected exactly {VOCAB_SIZE}")
    ids = sorted(entry.id for entry in entries)
    if ids != list(range(VOCAB_SIZE)):
        raise TokenTableError(f"{path}: token ids are {ids}, expected each of 0..{VOCAB_SIZE - 1} once")
    texts = {entry.text for entry in entries}
    missing = [text for text in TOKEN_TEXTS if text not in texts]
    if missing or len(texts) != VOCAB_SIZE:
        raise TokenTableError(f"{path}: tokens {missing!r} missing or listed twice; expected {list(TOKEN_TEXTS)!r}")

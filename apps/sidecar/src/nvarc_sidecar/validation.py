"""Checks on token-id lists shared by TestTimeFineTune, Decode and Score requests."""

from collections.abc import Sequence

from nvarc_sidecar.errors import InvalidArgumentError
from nvarc_sidecar.tokens import VOCAB_SIZE


def check_token_ids(token_ids: Sequence[int], field: str) -> None:
    """Raise InvalidArgumentError naming `field[j]` when an id is outside 0..VOCAB_SIZE-1."""
    for position, token_id in enumerate(token_ids):
        if not 0 <= token_id < VOCAB_SIZE:
            raise InvalidArgumentError(
                f"{field}[{position}]={token_id} is not a token id; token ids are 0..{VOCAB_SIZE - 1}"
            )


def check_not_empty(token_ids: Sequence[int], field: str) -> None:
    """Raise InvalidArgumentError when `field` has no tokens."""
    if len(token_ids) == 0:
        raise InvalidArgumentError(f"{field} is empty; give at least one token id")


def check_fits(length: int, max_seq_len: int, field: str, fix: str) -> None:
    """Raise InvalidArgumentError when `length` tokens exceed the model's context."""
    if length > max_seq_len:
        raise InvalidArgumentError(
            f"{field} needs {length} tokens, above the model's max_seq_len of {max_seq_len}; {fix}"
        )

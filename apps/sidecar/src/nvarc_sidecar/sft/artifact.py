"""Reader of SFT dataset artifacts: manifest.json plus gzip JSON Lines shards of packed sequences.

Every shard's sha256 is checked against the manifest before its sequences are used,
and once more on the bytes actually read, so a shard changed during a run fails too.
"""

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nvarc_sidecar.errors import InvalidArgumentError, NotFoundError
from nvarc_sidecar.tokens import VOCAB_SIZE
from nvarc_sidecar.validation import check_fits

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class PackedSequence:
    """One training row: samples packed end to end, each attending only to itself.

    `loss_mask[i]` 1 marks token i as a target; `segment_lengths` sum to the length.
    """

    token_ids: list[int]
    loss_mask: list[int]
    segment_lengths: list[int]


@dataclass(frozen=True)
class ShardEntry:
    """A shard file named by the manifest, with its sequence count and sha256 (hex)."""

    path: Path
    sequences: int
    sha256: str


@dataclass(frozen=True)
class DatasetArtifact:
    """A verified artifact: its shards in manifest order and the manifest's contentHash."""

    path: Path
    content_hash: str
    shards: list[ShardEntry]

    @property
    def sequence_count(self) -> int:
        """Packed sequences over all shards."""
        return sum(shard.sequences for shard in self.shards)


def open_artifact(path: Path) -> DatasetArtifact:
    """Read the manifest of the artifact at `path` and verify every shard's sha256.

    Raises:
        NotFoundError: the directory, its manifest or a shard file does not exist.
        InvalidArgumentError: the manifest is malformed, its formatVersion is not 1, a
            shard's sha256 does not match, or the contentHash is missing.
    """
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise NotFoundError(f"dataset artifact {path} has no {MANIFEST_FILE}; give the directory of a built SFT dataset")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"{manifest_path} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("formatVersion") != FORMAT_VERSION:
        version = manifest.get("formatVersion") if isinstance(manifest, dict) else None
        raise InvalidArgumentError(
            f"{manifest_path} has formatVersion {version!r}; this sidecar reads formatVersion {FORMAT_VERSION} only"
        )

    shards = _shard_entries(path, manifest_path, manifest)
    for shard in shards:
        _check_sha256(shard, _file_sha256(shard.path))
    # The manifest's contentHash identifies the dataset in checkpoints and model metadata.
    # The shard files themselves are trusted only through their verified sha256 values.
    content_hash = manifest.get("contentHash")
    if not isinstance(content_hash, str) or not content_hash:
        raise InvalidArgumentError(f"{manifest_path} has no contentHash; rebuild the dataset artifact")
    return DatasetArtifact(path=path, content_hash=content_hash, shards=shards)


def _shard_entries(path: Path, manifest_path: Path, manifest: dict) -> list[ShardEntry]:
    rows = manifest.get("shards")
    if not isinstance(rows, list) or not rows:
        raise InvalidArgumentError(f"{manifest_path} lists no shards; rebuild the dataset artifact")
    shards = []
    for index, row in enumerate(rows):
        valid = (isinstance(row, dict) and isinstance(row.get("file"), str) and type(row.get("sequences")) is int
                 and row["sequences"] >= 0 and isinstance(row.get("sha256"), str))
        if not valid or "/" in row["file"] or row["file"].startswith("."):
            raise InvalidArgumentError(
                f"{manifest_path} shards[{index}] is invalid; expected a file name in the artifact directory, "
                "a sequence count and a sha256"
            )
        shard_path = path / row["file"]
        if not shard_path.is_file():
            raise NotFoundError(f"shard {shard_path} named by {manifest_path} not found")
        shards.append(ShardEntry(path=shard_path, sequences=row["sequences"], sha256=row["sha256"].lower()))
    return shards


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(shard: ShardEntry, actual: str) -> None:
    if actual != shard.sha256:
        raise InvalidArgumentError(
            f"shard {shard.path} has sha256 {actual}, but the manifest expects {shard.sha256}; "
            "the file is corrupt or was changed, so rebuild the dataset artifact"
        )


def read_shard(shard: ShardEntry, max_seq_len: int) -> list[PackedSequence]:
    """Read and validate every sequence of one shard, checking its sha256 on the bytes read.

    Raises:
        InvalidArgumentError: the sha256 differs, the file is not gzip JSON Lines, a
            line is not a valid packed sequence, or the line count differs from the manifest.
    """
    data = shard.path.read_bytes()
    _check_sha256(shard, hashlib.sha256(data).hexdigest())
    try:
        lines = gzip.decompress(data).decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"shard {shard.path} is not gzip-compressed UTF-8 text: {error}") from error
    sequences = [_parse_line(shard.path, number, line, max_seq_len) for number, line in enumerate(lines, 1) if line]
    if len(sequences) != shard.sequences:
        raise InvalidArgumentError(
            f"shard {shard.path} contains {len(sequences)} sequences, but the manifest lists {shard.sequences}"
        )
    return sequences


def _parse_line(path: Path, number: int, line: str, max_seq_len: int) -> PackedSequence:
    where = f"{path} line {number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(row, dict):
        raise InvalidArgumentError(f"{where} is not a JSON object")
    ids, mask, segments = row.get("token_ids"), row.get("loss_mask"), row.get("segment_lengths")
    if not all(_is_int_list(value) for value in (ids, mask, segments)):
        raise InvalidArgumentError(f"{where} needs integer lists token_ids, loss_mask and segment_lengths")
    _check_sequence(where, ids, mask, segments, max_seq_len)
    return PackedSequence(token_ids=ids, loss_mask=mask, segment_lengths=segments)


def _is_int_list(value: object) -> bool:
    return isinstance(value, list) and all(type(item) is int for item in value)


def _check_sequence(where: str, ids: list[int], mask: list[int], segments: list[int], max_seq_len: int) -> None:
    if not ids:
        raise InvalidArgumentError(f"{where} has no tokens")
    if len(mask) != len(ids):
        raise InvalidArgumentError(f"{where} has {len(ids)} token_ids but {len(mask)} loss_mask entries")
    if any(length < 1 for length in segments) or sum(segments) != len(ids):
        raise InvalidArgumentError(
            f"{where}: segment_lengths {segments} must be positive and sum to the {len(ids)} tokens"
        )
    check_fits(len(ids), max_seq_len, where, "rebuild the dataset with a smaller packMaxTokens")
    if any(not 0 <= token < VOCAB_SIZE for token in ids):
        raise InvalidArgumentError(f"{where} has a token id outside 0..{VOCAB_SIZE - 1}")
    if any(value not in (0, 1) for value in mask):
        raise InvalidArgumentError(f"{where} has a loss_mask value other than 0 or 1")

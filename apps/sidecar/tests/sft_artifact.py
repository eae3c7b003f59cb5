"""Write small SFT dataset artifacts (manifest.json plus gzip JSON Lines shards) for the Train tests.

The layout follows the artifact format the dataset builder writes: formatVersion 1,
one packed sequence per line with token_ids, loss_mask and segment_lengths, and the
sha256 of every shard in the manifest.
"""

import gzip
import hashlib
import json
import random
from pathlib import Path

from dialog import training_sequence
from rpc_builders import random_grid

Sample = tuple[list[int], list[int]]


def copy_samples(rng: random.Random, count: int, pairs: int = 2, size: int = 3, colors: int = 4) -> list[Sample]:
    """Dialogs of the copy task: every output grid equals its input grid."""
    samples = []
    for _ in range(count):
        grids = [random_grid(rng, size, size, colors) for _ in range(pairs)]
        samples.append(training_sequence([(grid, grid) for grid in grids]))
    return samples


def pack(samples: list[Sample], pack_max_tokens: int) -> list[dict]:
    """Pack samples in order into sequences of at most `pack_max_tokens` tokens."""
    sequences: list[dict] = []
    current = {"token_ids": [], "loss_mask": [], "segment_lengths": []}
    for token_ids, loss_mask in samples:
        if current["token_ids"] and len(current["token_ids"]) + len(token_ids) > pack_max_tokens:
            sequences.append(current)
            current = {"token_ids": [], "loss_mask": [], "segment_lengths": []}
        current["token_ids"] += token_ids
        current["loss_mask"] += loss_mask
        current["segment_lengths"].append(len(token_ids))
    if current["token_ids"]:
        sequences.append(current)
    return sequences


def write_artifact(root: Path, dataset_id: str, sequences: list[dict], sequences_per_shard: int) -> Path:
    """Write `sequences` as an artifact directory `root/dataset_id` and return its path."""
    directory = root / dataset_id
    directory.mkdir(parents=True)
    shards = []
    for index, start in enumerate(range(0, len(sequences), sequences_per_shard)):
        rows = sequences[start:start + sequences_per_shard]
        text = "".join(json.dumps(row) + "\n" for row in rows)
        data = gzip.compress(text.encode("utf-8"), mtime=0)
        name = f"shard-{index:05d}.jsonl.gz"
        (directory / name).write_bytes(data)
        shards.append({"file": name, "sequences": len(rows), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {
        "formatVersion": 1,
        "datasetId": dataset_id,
        "createdAt": "2026-01-01T00:00:00Z",
        "seed": 0,
        "maxSeqLen": max(len(row["token_ids"]) for row in sequences),
        "packMaxTokens": max(len(row["token_ids"]) for row in sequences),
        "sources": [{"name": "test/copy", "tasks": len(sequences)}],
        "exclusions": {"byId": [], "byContent": []},
        "merges": [],
        "counts": {"tasks": len(sequences), "samples": sum(len(row["segment_lengths"]) for row in sequences),
                   "sequences": len(sequences), "shards": len(shards)},
        "tokens": {"total": sum(len(row["token_ids"]) for row in sequences),
                   "lossTokens": sum(sum(row["loss_mask"]) for row in sequences)},
        "shards": shards,
        "contentHash": hashlib.sha256("".join(shard["sha256"] for shard in shards).encode("ascii")).hexdigest(),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return directory


def copy_artifact(root: Path, dataset_id: str, seed: int, samples: int, pack_max_tokens: int = 256,
                  sequences_per_shard: int = 4) -> Path:
    """A copy-task artifact of `samples` dialogs, packed and split into shards."""
    sequences = pack(copy_samples(random.Random(seed), samples), pack_max_tokens)
    return write_artifact(root, dataset_id, sequences, sequences_per_shard)

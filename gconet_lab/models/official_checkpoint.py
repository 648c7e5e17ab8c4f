"""Load an official GCoNet+ checkpoint (ZhengPeng7/GCoNet_plus) into :class:`GCoNetPlus`.

The official file is a raw ``state_dict`` or a dict holding one under ``"state_dict"``, with or
without the ``module.`` prefix of ``DataParallel``.  Its key names map onto ours by a short table of
prefixes; four of its modules are built but never used by the official forward pass (difference
C21 in :mod:`gconet_lab.studies.paper_vs_code`) and are dropped with a note.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

# official prefix -> gconet_lab prefix (first match wins)
KEY_MAP: tuple[tuple[str, str], ...] = (
    (r"^bb\.conv([1-5])\.", "encoder.stages.{stage}."),
    (r"^(top_layer|enlayer[1-5]|latlayer[2-5])\.", "decoder.\\1."),
    (r"^co_x5\.all_attention\.query_transform\.", "gam.query."),
    (r"^co_x5\.all_attention\.key_transform\.", "gam.key."),
    (r"^co_x5\.all_attention\.conv6\.", "gam.output_conv."),
    (r"^pred_layer\.enlayer\.0\.", "gcm_head.hidden.0."),
    (r"^pred_layer\.predlayer\.0\.", "gcm_head.predict."),
    (r"^classifier\.", "classifier.fc."),
    (r"^conv_out_mask\.0\.", "racm_mask_head."),
    (r"^db_output_decoder\.", "cem."),
    (r"^conv_out1\.0\.", "saliency_head."),
)
# Built by the official model but never used in its forward pass (787,968 + 33 parameters).
UNUSED_OFFICIAL_PREFIXES = ("co_x5.conv_output.", "co_x5.conv_transform.", "co_x5.fc_transform.")


class CheckpointError(RuntimeError):
    """A checkpoint that is not a GCoNet+ state dict, or that does not fit the model."""


def extract_state_dict(checkpoint: Any, source: str = "checkpoint") -> dict[str, Tensor]:
    """The raw state dict inside ``checkpoint`` (a state dict, or a dict with ``state_dict``)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, Tensor) for v in checkpoint.values()):
        raise CheckpointError(f"{source} holds no state dict (a dict of tensors, or one under 'state_dict')")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def rename_official_key(key: str) -> str | None:
    """Our name for an official key; ``None`` for the official model's unused modules."""
    if key.startswith(UNUSED_OFFICIAL_PREFIXES):
        return None
    for pattern, replacement in KEY_MAP:
        match = re.match(pattern, key)
        if match:
            if "{stage}" in replacement:
                prefix = replacement.format(stage=int(match.group(1)) - 1)
            else:
                prefix = match.expand(replacement)
            return prefix + key[match.end():]
    return key


def convert_official_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    converted = {}
    for key, value in state_dict.items():
        new_key = rename_official_key(key)
        if new_key is not None:
            converted[new_key] = value
    return converted


# numpy arrays, the only non-plain values of older gconet-lab checkpoints (numpy's RNG state)
_ALLOWED_NUMPY = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), np.zeros(1).__reduce__()[0]]


def read_checkpoint_file(path: str | os.PathLike) -> dict[str, Any]:
    """The contents of a checkpoint file, read with ``weights_only=True``: a file that would run code is refused.

    Raises :class:`CheckpointError` for anything that is not a regular file (a FIFO would block the
    read forever), for truncated, foreign or unsafe files, and for a PyTorch file that holds no dict.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {os.fspath(path)!r} does not exist")
    if not os.path.isfile(path):
        raise CheckpointError(f"{os.fspath(path)!r} is not a regular file")
    try:
        with torch.serialization.safe_globals(_ALLOWED_NUMPY):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, foreign or unsafe files raise many different errors
        raise CheckpointError(f"cannot read checkpoint {os.fspath(path)!r}: {_load_failure(error)}") from error
    if not isinstance(payload, dict):  # every checkpoint, ours or official, is a dict (a tensor alone is no model)
        raise CheckpointError(f"{os.fspath(path)!r} is not a checkpoint: it holds a {type(payload).__name__}, "
                              "not a dict of weights")
    return payload


def _load_failure(error: Exception) -> str:
    """One line on why ``torch.load(weights_only=True)`` failed; torch's own message is many lines."""
    text = str(error)
    lines = [line.strip() for line in text.partition("WeightsUnpickler error:")[2].splitlines() if line.strip()]
    if "Unsupported global" in text:
        first_sentence = lines[0].split(". ")[0]
        return f"it holds objects other than tensors and plain values, which could run code; refused ({first_sentence})"
    if lines:
        return f"not a PyTorch checkpoint ({lines[0]})"
    return text.splitlines()[0] if text else type(error).__name__


def check_finite_weights(state_dict: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Raise :class:`CheckpointError` naming the tensors of ``state_dict`` that hold NaN or inf.

    A diverged training leaves such weights or BatchNorm statistics; a model built from them writes
    black maps that would be scored as if they were predictions.
    """
    bad = sorted(name for name, tensor in state_dict.items()
                 if tensor.is_floating_point() and not torch.isfinite(tensor).all())
    if bad:
        listed = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CheckpointError(f"{os.fspath(source)!r} holds non-finite weights ({listed}); the training diverged")


def load_official_checkpoint(model: nn.Module, checkpoint: str | os.PathLike | dict, source: str | None = None) -> None:
    """Load official GCoNet+ weights into ``model`` (built with ``variant="official"``).

    Raises :class:`CheckpointError` listing every missing and unexpected key when they don't fit.
    """
    source = source or ("checkpoint" if isinstance(checkpoint, dict) else os.fspath(checkpoint))
    raw = checkpoint if isinstance(checkpoint, dict) else read_checkpoint_file(checkpoint)
    state = convert_official_state_dict(extract_state_dict(raw, source))
    check_finite_weights(state, source)
    expected = model.state_dict()
    if "saliency_head.weight" not in expected:  # conv_out1: built always, used only without the CEM
        state = {k: v for k, v in state.items() if not k.startswith("saliency_head.")}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or mismatched:
        lines = [f"{source} does not fit this GCoNet+ model:"]
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if keys:
                lines.append(f"  {title} ({len(keys)}): " + ", ".join(keys[:20]) + (" ..." if len(keys) > 20 else ""))
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state)


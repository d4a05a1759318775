"""`ServeConfig`: what ``paperzoo serve`` loads and the limits it enforces on every request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

__all__ = ["ServeConfig"]


@dataclass
class ServeConfig:
    """Settings of the web app. Paths left ``None`` leave their panel out.

    Args:
        host, port: where uvicorn listens. Defaults to 127.0.0.1:8000 (loopback only).
        g2p: load the G2P panel (the shipped model, or ``g2p_model``). Defaults to True.
        g2p_model: a folder written by ``save_g2p``; None = the shipped weights, falling back to
            CMUdict-only lookups when no trained weights are shipped.
        chat: load the chat panel from ``paperzoo.dialogue`` when it is importable. Defaults to True.
        retrieval_index / hash_index: index directories from ``paperzoo retrieval index`` / ``paperzoo hash index``.
        netclass_model: MODEL path of ``paperzoo netclass train --out``.
        seg3d_model: a model directory of ``paperzoo seg3d train``.
        device: auto (CUDA when present, else CPU), cpu or cuda.
        max_json_bytes: body limit of JSON requests. max_upload_bytes: images and edge lists.
        max_nifti_bytes: CT volumes. max_words: words per G2P request. max_text_chars: one chat message.
        request_timeout_s: per-request compute limit (503 after it). max_jobs: concurrent model calls.
        max_sessions / session_ttl_s: the chat session store's bound and expiry.
        max_graph_edges: edges of an uploaded network. max_image_pixels: decoded image size.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    g2p: bool = True
    g2p_model: Path | None = None
    chat: bool = True
    retrieval_index: Path | None = None
    hash_index: Path | None = None
    netclass_model: Path | None = None
    seg3d_model: Path | None = None
    device: str = "auto"
    max_json_bytes: int = 64 * 1024
    max_upload_bytes: int = 8 * 1024 * 1024
    max_nifti_bytes: int = 64 * 1024 * 1024
    max_words: int = 64
    max_text_chars: int = 500
    request_timeout_s: float = 30.0
    max_jobs: int = 2
    max_sessions: int = 1000
    session_ttl_s: float = 1800.0
    max_graph_edges: int = 50_000
    max_image_pixels: int = 16_000_000

    def to_json(self) -> dict:
        """Plain JSON values (paths as strings), e.g. to hand the config to worker processes."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, d: dict) -> "ServeConfig":
        paths = {"g2p_model", "retrieval_index", "hash_index", "netclass_model", "seg3d_model"}
        known = {f.name for f in fields(cls)}
        return cls(**{k: (Path(v) if k in paths and v is not None else v) for k, v in d.items() if k in known})

    def resolved_device(self) -> str:
        if self.device not in ("auto", "cpu", "cuda"):
            from ..errors import ConfigError
            raise ConfigError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if self.device != "auto":
            return self.device
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"

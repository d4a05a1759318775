"""``paperzoo serve``: one local web app (FastAPI + uvicorn) for the systems people try interactively:
G2P (S4), the dialogue agents (S6), image search (S8, S7), network classification (S9), CT segmentation (S10)."""

from .app import create_app
from .config import ServeConfig
from .sessions import SessionStore

__all__ = ["create_app", "ServeConfig", "SessionStore"]

"""A Mattermost-compatible sandbox server for the bot's tests and demo."""
from .errors import AppError
from .server import Sandbox

__all__ = ["AppError", "Sandbox"]

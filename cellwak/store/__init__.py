"""The workspace: catalog of datasets, runs and clusterings, and their artifact files."""

from .workspace import Workspace, default_home, validate_name

__all__ = ["Workspace", "default_home", "validate_name"]

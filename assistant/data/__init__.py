"""Data: read a user's file, detect its format and mapping, check it, and turn it into training examples."""

from .inspect import DataReport, column_named, inspect_file, with_output
from .load import DataError, read_rows, save_upload, sha256_file
from .prepare import chat_examples, planned_data, split_examples

__all__ = ["DataError", "DataReport", "chat_examples", "column_named", "inspect_file", "planned_data", "read_rows",
           "save_upload", "sha256_file", "split_examples", "with_output"]

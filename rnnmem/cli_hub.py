"""``python -m rnnmem publish``: upload a model directory to the Hugging Face Hub."""

from __future__ import annotations

import sys

from .modelref import ModelRef
from .publish import publish_model


def add_commands(sub) -> None:
    p = sub.add_parser(
        "publish", help="upload a model directory to the Hugging Face Hub",
        description="Upload config.json, model.safetensors, the model card, the training log and evaluation "
                    "files of MODEL_DIR to a Hub model repository, and print the commit created. The token is "
                    "read from HF_TOKEN (or Streamlit secrets, or `hf auth login`).")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model directory (config.json + model.safetensors)")
    p.add_argument("--repo-id", required=True, metavar="OWNER/NAME", help="Hub repository (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", default=None, metavar="BRANCH",
                   help="branch to commit to (default main; created from main if missing)")
    p.set_defaults(run=_run_publish)


def _run_publish(args) -> int:
    sha = publish_model(args.model_dir, args.repo_id, private=args.private, revision=args.revision)
    print(sha)
    print(f"published {args.model_dir} as {ModelRef.hub(args.repo_id, sha)}", file=sys.stderr)
    return 0

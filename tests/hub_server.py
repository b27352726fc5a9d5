"""A stand-in for the Hugging Face Hub, for tests: stdlib only, on 127.0.0.1, a random port.

It implements just the HTTP API that huggingface_hub 2.x uses to load and publish a model, read from
huggingface_hub's own source (file_download.py, hf_api.py, _commit_api.py, utils/_http.py):

    GET  /api/models/OWNER/NAME[/revision/REV]       model_info: {"sha", "siblings": [{"rfilename"}], ...}
    GET  /api/models/OWNER/NAME/tree/REV             list_repo_tree / list_repo_files
    HEAD /OWNER/NAME/resolve/REV/FILE                hf_hub_download metadata: X-Repo-Commit, ETag,
                                                     X-Linked-Etag/-Size (LFS files), Content-Length
    GET  /OWNER/NAME/resolve/REV/FILE                the bytes (a "bytes=N-" Range is honoured)
    POST /api/repos/create                           {"name", "organization", "visibility"} -> {"url"}; 409 if it exists
    POST /api/validate-yaml                          the model card check create_commit makes first
    POST /api/models/OWNER/NAME/preupload/REV        -> every file "regular" (so no LFS/Xet upload is needed)
    POST /api/models/OWNER/NAME/commit/REV           NDJSON: header, then "file" lines with base64 content
    POST /api/models/OWNER/NAME/branch/BRANCH        {"startingPoint"?}; 409 if it exists

Errors carry the ``X-Error-Code`` header huggingface_hub turns into typed exceptions (RepoNotFound,
RevisionNotFound, EntryNotFound). Like the Hub, a private or missing repository answers 401 to a caller
without a valid token, and a wrong token gets 401 "Invalid credentials in Authorization header".

Repositories live in memory as commits (sha -> {filename: bytes}) with branches and tags pointing at them,
so a test can move a branch and still fetch the old commit. Knobs for failures:

    hub.delay, hub.delay_paths   sleep this many seconds before answering (requests whose path contains
                                 delay_paths, or all when None) -> client timeouts
    hub.tamper["OWNER/NAME/FILE"] = fn   GET bodies of that file become fn(bytes): truncate or corrupt them;
                                 HEAD still reports the true size and checksum, as a real broken transfer would
    hub.token                    the one valid token (read private repos, write anything)
    hub.requests                 (method, path) of every request received, for assertions

Usage::

    with FakeHub() as hub:          # hub.url -> HF_ENDPOINT
        sha = hub.commit_dir("alice/tiny", model_dir)
        ...
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_TOKEN = "hf_StandInSecretToken0123456789abcdef"
# Files the Hub stores with Git LFS: their ETag is the sha256 of the content, sent as X-Linked-Etag.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".h5", ".msgpack", ".onnx")
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a file: what the Hub uses as ETag for non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(filename: str) -> bool:
    return filename.lower().endswith(LFS_SUFFIXES)


def etag_of(filename: str, data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() if is_lfs(filename) else git_blob_sha1(data)


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict  # filename -> bytes, the whole tree at this commit


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    commits: dict = field(default_factory=dict)  # sha -> Commit
    branches: dict = field(default_factory=dict)  # name -> sha
    tags: dict = field(default_factory=dict)  # name -> sha

    def resolve(self, revision: str) -> str | None:
        """A branch, tag or full commit sha -> commit sha, or None."""
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.tags:
            return self.tags[revision]
        return revision if revision in self.commits else None


class ApiError(Exception):
    """An error answer: HTTP status, X-Error-Code, message."""

    def __init__(self, status: int, code: str | None, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class FakeHub:
    def __init__(self, token: str = DEFAULT_TOKEN):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.delay = 0.0
        self.delay_paths: str | None = None
        self.tamper: dict = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> "FakeHub":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True  # a request still sleeping in a delay must not block stop()
        server.hub = self
        server.handle_error = lambda request, address: None  # clients that gave up (timeouts) are expected
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- repository state (for tests, and used by the HTTP handlers) ---------------------------------

    def create_repo(self, repo_id: str, *, private: bool = False) -> Repo:
        """A new repository whose main branch has one commit with .gitattributes, as on the Hub."""
        with self._lock:
            if repo_id in self.repos:
                raise ValueError(f"{repo_id} exists")
            repo = self.repos[repo_id] = Repo(repo_id, private=private)
            sha = self._new_commit(repo, None, "initial commit", {".gitattributes": GITATTRIBUTES})
            repo.branches["main"] = sha
            return repo

    def commit(self, repo_id: str, files: dict, *, branch: str = "main", message: str = "update",
               deleted: tuple = (), private: bool = False) -> str:
        """Add/replace ``files`` ({name: bytes}) on ``branch`` (created from main if missing; the repository
        too) and move the branch to the new commit. Returns its sha."""
        with self._lock:
            repo = self.repos.get(repo_id) or self.create_repo(repo_id, private=private)
            if branch not in repo.branches:
                repo.branches[branch] = repo.branches["main"]
            parent = repo.branches[branch]
            tree = dict(repo.commits[parent].files)
            for name in deleted:
                tree.pop(name, None)
            tree.update(files)
            sha = self._new_commit(repo, parent, message, tree)
            repo.branches[branch] = sha
            return sha

    def commit_dir(self, repo_id: str, directory, **kwargs) -> str:
        """Commit every file of a local directory (not recursive)."""
        files = {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}
        return self.commit(repo_id, files, **kwargs)

    def tag(self, repo_id: str, name: str, revision: str = "main") -> str:
        with self._lock:
            repo = self.repos[repo_id]
            repo.tags[name] = repo.resolve(revision)
            return repo.tags[name]

    def file(self, repo_id: str, filename: str, revision: str = "main") -> bytes:
        repo = self.repos[repo_id]
        return repo.commits[repo.resolve(revision)].files[filename]

    def files(self, repo_id: str, revision: str = "main") -> dict:
        repo = self.repos[repo_id]
        return dict(repo.commits[repo.resolve(revision)].files)

    def _new_commit(self, repo: Repo, parent: str | None, message: str, tree: dict) -> str:
        self._counter += 1
        digest = hashlib.sha1(f"{repo.repo_id}\0{parent}\0{message}\0{self._counter}".encode())
        for name in sorted(tree):
            digest.update(name.encode() + b"\0" + etag_of(name, tree[name]).encode())
        sha = digest.hexdigest()
        repo.commits[sha] = Commit(sha, parent, message, tree)
        return sha

    # ---- access checks ----------------------------------------------------------------------------------

    def _caller(self, headers) -> bool:
        """True for the valid token, False for no token; a wrong token is refused outright."""
        auth = headers.get("Authorization") or ""
        if not auth:
            return False
        if auth == f"Bearer {self.token}":
            return True
        raise ApiError(401, None, "Invalid credentials in Authorization header")

    def _readable(self, repo_id: str, headers) -> Repo:
        authenticated = self._caller(headers)
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and not authenticated):
            # The Hub answers 401 (not 404) to anonymous callers, so as not to reveal private repositories.
            raise ApiError(404 if authenticated else 401, "RepoNotFound", "Repository not found")
        return repo

    def _writable(self, repo_id: str, headers) -> Repo:
        if not self._caller(headers):
            raise ApiError(401, None, "You must be authenticated to write")
        repo = self.repos.get(repo_id)
        if repo is None:
            raise ApiError(404, "RepoNotFound", "Repository not found")
        return repo

    @staticmethod
    def _commit_of(repo: Repo, revision: str) -> Commit:
        sha = repo.resolve(revision)
        if sha is None:
            raise ApiError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return repo.commits[sha]

    # ---- endpoints: each returns (status, body, headers); body is bytes, a JSON-able object or None ------

    def model_info(self, repo_id, revision, query, headers):
        repo = self._readable(repo_id, headers)
        commit = self._commit_of(repo, revision)
        with_blobs = "blobs" in query
        siblings = []
        for name, data in sorted(commit.files.items()):
            sibling = {"rfilename": name}
            if with_blobs:
                sibling.update(size=len(data), blobId=git_blob_sha1(data))
                if is_lfs(name):
                    sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                      "pointerSize": 134}
            siblings.append(sibling)
        owner = repo_id.split("/")[0]
        return 200, {"_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "id": repo_id, "modelId": repo_id,
                     "author": owner, "sha": commit.sha, "private": repo.private, "disabled": False,
                     "gated": False, "tags": [], "downloads": 0, "likes": 0,
                     "lastModified": "2024-01-01T00:00:00.000Z", "createdAt": "2024-01-01T00:00:00.000Z",
                     "siblings": siblings}, {}

    def tree(self, repo_id, revision, query, headers):
        repo = self._readable(repo_id, headers)
        commit = self._commit_of(repo, revision)
        entries = []
        for name, data in sorted(commit.files.items()):
            entry = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
            if is_lfs(name):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        return 200, entries, {}

    def resolve_file(self, method, repo_id, revision, filename, headers):
        repo = self._readable(repo_id, headers)
        commit = self._commit_of(repo, revision)
        if filename not in commit.files:
            raise ApiError(404, "EntryNotFound", f"{filename} does not exist at {revision}",
                           {"X-Repo-Commit": commit.sha})
        data = commit.files[filename]
        etag = etag_of(filename, data)
        out = {"X-Repo-Commit": commit.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
               "Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        if is_lfs(filename):
            out.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        if method == "HEAD":
            return 200, None, out
        tamper = self.tamper.get(f"{repo_id}/{filename}")
        body = tamper(data) if tamper else data
        status = 200
        byte_range = headers.get("Range") or ""
        if byte_range.startswith("bytes=") and byte_range.endswith("-"):
            start = int(byte_range[len("bytes="):-1])
            out["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            body, status = body[start:], 206
        out["Content-Length"] = str(len(body))
        return status, body, out

    def create_repo_endpoint(self, payload, headers):
        if not self._caller(headers):
            raise ApiError(401, None, "Invalid username or password.")
        repo_id = f"{payload.get('organization')}/{payload.get('name')}"
        if payload.get("type") not in (None, "model"):
            raise ApiError(400, None, "only model repositories here")
        url = f"{self.url}/{repo_id}"
        with self._lock:
            if repo_id in self.repos:
                return 409, {"error": "You already created this model repo", "url": url}, {}
            self.create_repo(repo_id, private=payload.get("visibility") == "private" or bool(payload.get("private")))
        return 200, {"url": url, "name": repo_id, "id": hashlib.md5(repo_id.encode()).hexdigest()[:24]}, {}

    def preupload(self, repo_id, revision, payload, headers):
        repo = self._writable(repo_id, headers)
        commit = self._commit_of(repo, revision)
        files = []
        for item in payload.get("files", []):
            existing = commit.files.get(item["path"])
            # "regular" for everything: the content then travels base64 inside the commit call (no LFS).
            files.append({"path": item["path"], "uploadMode": "regular", "shouldIgnore": False,
                          "oid": git_blob_sha1(existing) if existing is not None else None})
        return 200, {"files": files, "commitOid": commit.sha}, {}

    def commit_endpoint(self, repo_id, revision, body: bytes, headers):
        repo = self._writable(repo_id, headers)
        if revision not in repo.branches:
            raise ApiError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        added, deleted, summary, parent = {}, [], "", None
        for line in body.decode("utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                summary, parent = value.get("summary", ""), value.get("parentCommit")
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise ApiError(400, None, "only base64 file content is supported")
                added[value["path"]] = base64.b64decode(value["content"])
            elif key in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
            else:  # lfsFile, copies: never requested by this server's preupload answer
                raise ApiError(400, None, f"unsupported commit operation {key!r}")
        with self._lock:
            if parent is not None and parent != repo.branches[revision]:
                raise ApiError(412, None, "A commit has happened since. Please refresh and try again.")
            sha = self.commit(repo_id, added, branch=revision, message=summary, deleted=tuple(deleted))
        return 200, {"success": True, "commitOid": sha, "commitUrl": f"{self.url}/{repo_id}/commit/{sha}",
                     "hookOutput": ""}, {}

    def create_branch(self, repo_id, branch, payload, headers):
        repo = self._writable(repo_id, headers)
        with self._lock:
            if branch in repo.branches:
                raise ApiError(409, None, f"Reference refs/heads/{branch} already exists")
            start = self._commit_of(repo, (payload or {}).get("startingPoint") or "main")
            repo.branches[branch] = start.sha
        return 200, {}, {}


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to FakeHub methods. HTTP/1.0: one request per connection, which keeps it simple."""

    server_version = "FakeHub/1.0"

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self, method: str) -> None:
        hub: FakeHub = self.server.hub
        split = urlsplit(self.path)
        hub.requests.append((method, split.path))
        if hub.delay and (hub.delay_paths is None or hub.delay_paths in split.path):
            time.sleep(hub.delay)
        query = parse_qs(split.query)
        # Revisions arrive URL-quoted ("feature%2Fx"): split on "/" first, then unquote each part.
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        try:
            body = self._body() if method == "POST" else b""
            result = self._route(hub, method, parts, query, body)
        except ApiError as error:
            headers = {"X-Error-Message": error.message, **error.headers}
            if error.code:
                headers["X-Error-Code"] = error.code
            result = (error.status, {"error": error.message}, headers)
        except (ValueError, KeyError) as error:
            result = (400, {"error": f"bad request: {error}"}, {})
        self._send(method, *result)

    def _route(self, hub: FakeHub, method: str, parts: list, query: dict, body: bytes):
        # JSON bodies everywhere except the commit call, which is NDJSON
        is_commit = len(parts) == 6 and parts[4] == "commit"
        payload = json.loads(body or b"{}") if method == "POST" and not is_commit else None
        if parts[:1] == ["api"]:
            if method == "POST" and parts == ["api", "repos", "create"]:
                return hub.create_repo_endpoint(payload, self.headers)
            if method == "POST" and parts == ["api", "validate-yaml"]:
                return 200, {"errors": [], "warnings": []}, {}
            if len(parts) >= 4 and parts[1] == "models":
                repo_id, rest = f"{parts[2]}/{parts[3]}", parts[4:]
                if method == "GET" and not rest:
                    return hub.model_info(repo_id, "main", query, self.headers)
                if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                    return hub.model_info(repo_id, rest[1], query, self.headers)
                if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                    return hub.tree(repo_id, rest[1], query, self.headers)
                if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                    return hub.preupload(repo_id, rest[1], payload, self.headers)
                if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                    return hub.commit_endpoint(repo_id, rest[1], body, self.headers)
                if method == "POST" and len(rest) == 2 and rest[0] == "branch":
                    return hub.create_branch(repo_id, rest[1], payload, self.headers)
        elif method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
            return hub.resolve_file(method, f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), self.headers)
        raise ApiError(404, None, f"no route for {method} /{'/'.join(parts)}")

    def _send(self, method: str, status: int, body, headers: dict) -> None:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        body = body or b""
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

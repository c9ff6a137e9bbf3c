# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubeconfig entries of an EKS cluster, and the check that they reach its Kubernetes API.

Two halves, used by ``llmhub.eks.eks_kubeconfig``:

* pure functions on a kubeconfig (a dict as ``yaml.safe_load`` reads it): the
  cluster, user and context entries of an EKS cluster as ``aws eks
  update-kubeconfig`` writes them (or with the collection's own token
  command), merged into a config by name without touching any other entry,
  removed by name, compared for ``changed``/``--diff``; plus reading and
  writing the file (atomically, mode 0600, other entries kept);
* :class:`KubernetesApi`: HTTPS requests to the cluster's endpoint, verified
  with its certificate authority, authenticated by a bearer token the caller
  mints in-process (the token only goes into the ``Authorization`` header):
  any request, lists that follow ``continue`` tokens, deletes with a
  propagation policy; the server version and the nodes, Ready or not, by
  node group.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import fcntl
import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request

try:
    import yaml
except ImportError:
    HAS_YAML = False
else:
    HAS_YAML = True

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
DEFAULT_PATH = "~/.kube/config"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# The token command the module writes next to the kubeconfig (authenticator: collection): eks_token.py's source.
TOKEN_SCRIPT_NAME = "llmhub-eks-get-token.py"
TOKEN_SCRIPT_MODE = 0o700
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
SECTIONS = ("clusters", "users", "contexts")


class KubeconfigError(Exception):
    """A kubeconfig file that cannot be read or written; the message says which file and what to do."""


# -- where ----------------------------------------------------------------------------------

def default_path(environ=None):
    """``$KUBECONFIG``'s first entry (as kubectl writes to it), else ``~/.kube/config``; expanded."""
    environ = os.environ if environ is None else environ
    for entry in (environ.get("KUBECONFIG") or "").split(os.pathsep):
        if entry.strip():
            return os.path.abspath(os.path.expanduser(entry.strip()))
    return os.path.abspath(os.path.expanduser(DEFAULT_PATH))


def token_script_path(kubeconfig_path):
    """Where the collection's token command lives: next to the kubeconfig."""
    return os.path.join(os.path.dirname(os.path.abspath(kubeconfig_path)), TOKEN_SCRIPT_NAME)


# -- entries --------------------------------------------------------------------------------

def empty_config():
    """A kubeconfig with nothing in it, as kubectl starts one."""
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
            "current-context": ""}


def exec_entry(command, args, env=None):
    """The ``exec`` of a kubeconfig user (``env``: {name: value}, omitted when empty)."""
    entry = {"apiVersion": EXEC_API_VERSION, "command": command, "args": list(args)}
    if env:
        entry["env"] = [{"name": name, "value": value} for name, value in sorted(env.items())]
    return entry


def aws_cli_exec(cluster_name, region, role_arn=None, command="aws", env=None):
    """The exec of ``aws eks update-kubeconfig``: ``aws --region R eks get-token --cluster-name N --output json``."""
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    return exec_entry(command, args, env)


def token_cache_dir(kubeconfig_path):
    """Where the collection's token command keeps its tokens: ``cache/llmhub-eks-tokens`` next to the kubeconfig
    (as aws-iam-authenticator keeps its cache under ``~/.kube/cache``)."""
    return os.path.join(os.path.dirname(os.path.abspath(kubeconfig_path)), "cache", "llmhub-eks-tokens")


def collection_exec(cluster_name, region, python, script, role_arn=None, env=None, cache_dir=None):
    """The exec of ``authenticator: collection``: ``<python> <script> --region R --cluster-name N``
    (``--cache-dir D`` when its tokens are cached)."""
    args = [script, "--region", region, "--cluster-name", cluster_name]
    if role_arn:
        args += ["--role-arn", role_arn]
    if cache_dir:
        args += ["--cache-dir", cache_dir]
    return exec_entry(python, args, env)


def cluster_entries(cluster_arn, endpoint, certificate_authority_data, context, user, exec_config):
    """(cluster, user, context) entries of an EKS cluster; the cluster entry is named by its ARN, as the AWS CLI
    names it."""
    cluster = {"name": cluster_arn, "cluster": {"server": endpoint,
                                                "certificate-authority-data": certificate_authority_data}}
    user_entry = {"name": user, "user": {"exec": exec_config}}
    context_entry = {"name": context, "context": {"cluster": cluster_arn, "user": user}}
    return cluster, user_entry, context_entry


def normalise(config):
    """A copy of ``config`` with the three sections as lists (kubectl writes ``null`` for an empty one)."""
    config = copy.deepcopy(config) if config else empty_config()
    for section in SECTIONS:
        if not config.get(section):
            config[section] = []
    return config


def merge(config, cluster, user, context, set_current_context=True):
    """``config`` with the three entries put in by name (an entry of the same name is replaced in place, a new
    one appended), every other entry kept; ``current-context`` set to ours when asked. Returns a new dict."""
    config = normalise(config)
    for section, entry in zip(SECTIONS, (cluster, user, context)):
        entries = config[section]
        for index, existing in enumerate(entries):
            if isinstance(existing, dict) and existing.get("name") == entry["name"]:
                entries[index] = copy.deepcopy(entry)
                break
        else:
            entries.append(copy.deepcopy(entry))
    if set_current_context or not config.get("current-context"):
        config["current-context"] = context["name"]
    return config


def remove(config, cluster_name, user_name, context_name):
    """``config`` without the named cluster, user and context entries (nothing else); ``current-context`` is
    emptied when it was the removed context. Returns a new dict."""
    config = normalise(config)
    for section, name in zip(SECTIONS, (cluster_name, user_name, context_name)):
        config[section] = [e for e in config[section] if not (isinstance(e, dict) and e.get("name") == name)]
    if config.get("current-context") == context_name:
        config["current-context"] = ""
    return config


def find(config, section, name):
    """The entry ``name`` of ``section``, or None."""
    for entry in (config or {}).get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def entries_view(config, cluster_name, user_name, context_name):
    """Our entries of ``config`` for ``--diff`` (no secrets: a kubeconfig of ours holds no token, only the exec
    command that mints one). None for an entry that is not there."""
    return {
        "cluster": find(config, "clusters", cluster_name),
        "user": find(config, "users", user_name),
        "context": find(config, "contexts", context_name),
        "current-context": (config or {}).get("current-context") or "",
    }


def token_script_users(config, script):
    """Names of the users of ``config`` whose exec runs ``script``."""
    return [entry.get("name") for entry in (config or {}).get("users") or []
            if isinstance(entry, dict) and script in (((entry.get("user") or {}).get("exec") or {}).get("args") or [])]


# -- the file -------------------------------------------------------------------------------

def parse(text, path="kubeconfig"):
    """The kubeconfig in ``text`` (empty text: an empty config). Raises KubeconfigError on anything else."""
    if not HAS_YAML:
        raise KubeconfigError("PyYAML is needed to read kubeconfig files (pip install pyyaml)")
    try:
        config = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise KubeconfigError(f"{path} is not valid YAML ({e}); fix it, move it away, or set path to another "
                              "file") from None
    if config is None:
        return empty_config()
    if not isinstance(config, dict) or (config.get("kind") not in (None, "Config")):
        raise KubeconfigError(f"{path} is not a kubeconfig (expected a mapping with kind: Config); fix it, move it "
                              "away, or set path to another file")
    for section in SECTIONS:
        if config.get(section) is not None and not isinstance(config[section], list):
            raise KubeconfigError(f"{path}: {section} must be a list; fix the file or set path to another file")
    return config


def dump(config):
    """YAML of ``config`` with keys sorted, as kubectl and ``aws eks update-kubeconfig`` write it."""
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=True)


def read(path):
    """(config, mode) of the file at ``path``: (None, None) when there is none."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None, None
    except OSError as e:
        raise KubeconfigError(f"cannot read {path}: {e.strerror}") from None
    return parse(text, path), mode


@contextlib.contextmanager
def locked(path, check_mode=False):
    """Hold an exclusive lock on ``<path>.lock`` (as kubectl locks ``<file>.lock``) while a kubeconfig is read,
    merged and written, so the hosts of a fleet writing one file in parallel never lose each other's entries.
    Check mode writes nothing and takes no lock."""
    if check_mode:
        yield
        return
    path = os.path.realpath(os.path.expanduser(path))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=DIRECTORY_MODE, exist_ok=True)
    descriptor = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def write_atomic(path, text, mode=FILE_MODE):
    """Write ``text`` to ``path`` through a temporary file in the same directory, created with ``mode`` and
    renamed over it (a reader sees the old file or the new one, never half of one, and never with a wider mode).
    A missing directory is made with mode 0700. A symbolic link is followed (its target is replaced)."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=DIRECTORY_MODE, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as e:
        raise KubeconfigError(f"cannot write {path}: {e.strerror}") from None
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as e:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise KubeconfigError(f"cannot write {path}: {e.strerror}") from None


def read_text(path):
    """The text of ``path``, or None when there is no such file."""
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def plan_file(current, mode, wanted):
    """What writing ``wanted`` over a file holding ``current`` (None: no file) with ``mode`` takes:
    ``"write"``, ``"chmod"`` (same content, mode other than 0600) or None (nothing)."""
    if current is None or normalise(current) != normalise(wanted):
        return "write"
    if mode is not None and mode != FILE_MODE:
        return "chmod"
    return None


# -- the Kubernetes API ---------------------------------------------------------------------

class KubernetesApiError(Exception):
    """A failed request: ``status`` is the HTTP status (None when the server could not be reached)."""

    def __init__(self, message, status=None, reason=""):
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubernetesApi:
    """Requests to a cluster's Kubernetes API with a bearer token from ``token()`` (called per request, so a long
    wait never sends an expired token). HTTPS is verified with the cluster's CA; proxies follow the usual
    ``HTTPS_PROXY``/``NO_PROXY`` environment, as kubectl's. ``opener`` replaces the HTTPS opener (tests)."""

    PAGE_SIZE = 500
    # a continue token the server no longer knows (410 Gone, ResourceExpired): the list starts over, this many times
    LIST_RESTARTS = 3

    def __init__(self, endpoint, certificate_authority_data, token, timeout=30, opener=None):
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout
        if opener is None:
            context = ssl.create_default_context(cadata=base64.b64decode(certificate_authority_data).decode("ascii"))
            opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self.opener = opener

    def request(self, method, path, query=None, body=None, content_type="application/json"):
        """``method`` on ``path`` (``query``: a dict, ``body``: JSON-serialisable, sent as ``content_type``, such as
        ``application/apply-patch+yaml`` for server-side apply, of which JSON is a subset) -> the JSON answer ({}
        when empty). Raises KubernetesApiError: ``status`` is the HTTP status, ``reason`` the Status message."""
        url = self.endpoint + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": "application/json", "Authorization": "Bearer " + self.token()}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            status_message = ""
            try:
                status_message = json.loads(e.read() or b"{}").get("message") or ""
            except (ValueError, AttributeError):
                pass  # not a Kubernetes Status: the HTTP status says it all
            detail = f": {status_message}" if status_message else ""
            raise KubernetesApiError(f"{method} {path}: {e.code} {e.reason}{detail}", status=e.code,
                                     reason=status_message) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise KubernetesApiError(f"cannot reach {self.endpoint}: {reason}") from None

    def get(self, path, query=None):
        return self.request("GET", path, query)

    def list(self, path, query=None):
        """Every item of the collection at ``path`` (``/api/v1/pods``: all namespaces), following ``continue``
        tokens (500 at a time); a list whose token expired (410) starts over."""
        for _attempt in range(self.LIST_RESTARTS):
            items, page_query = [], dict(query or {}, limit=str(self.PAGE_SIZE))
            try:
                while True:
                    page = self.get(path, page_query)
                    items.extend(page.get("items") or [])
                    token = (page.get("metadata") or {}).get("continue")
                    if not token:
                        return items
                    page_query = dict(page_query, **{"continue": token})
            except KubernetesApiError as e:
                if e.status != 410 or "continue" not in page_query:
                    raise
        raise KubernetesApiError(f"GET {path}: the list kept changing (410 Gone {self.LIST_RESTARTS} times)",
                                 status=410)

    def delete(self, path, propagation_policy=None):
        """DELETE ``path`` (``propagation_policy``: Background, Foreground or Orphan, in the DeleteOptions body);
        the answer (the object, marked for deletion while finalizers hold it, or a Status), None when it was
        already gone (404)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        try:
            return self.request("DELETE", path, body=body)
        except KubernetesApiError as e:
            if e.status == 404:
                return None
            raise

    def server_version(self):
        """``gitVersion`` of ``/version`` (``v1.35.2-eks-...``)."""
        return self.get("/version").get("gitVersion")

    def nodes(self):
        """Every node, following ``continue`` tokens (500 at a time)."""
        return self.list("/api/v1/nodes")


def is_ready(node):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def node_counts(nodes):
    """{total, ready, by_nodegroup: {group: Ready nodes}} (nodes without the EKS node group label, e.g. Fargate
    or self-managed, are counted in total and ready only)."""
    by_group = {}
    for node in nodes:
        group = ((node.get("metadata") or {}).get("labels") or {}).get(NODEGROUP_LABEL)
        if group is not None:
            by_group.setdefault(group, 0)
            if is_ready(node):
                by_group[group] += 1
    return {"total": len(nodes), "ready": sum(1 for node in nodes if is_ready(node)),
            "by_nodegroup": dict(sorted(by_group.items()))}

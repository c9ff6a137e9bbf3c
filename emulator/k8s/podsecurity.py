"""Pod Security admission: a namespace's ``pod-security.kubernetes.io/enforce`` level refuses violating pods.

The ``baseline`` and ``restricted`` checks of the Pod Security Standards, worded as kube-apiserver's
PodSecurity admission plugin words them::

    pods "x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false
    (container "app" must set securityContext.allowPrivilegeEscalation=false), ...

Only pod creation is checked (updates of a pod's spec are mostly forbidden anyway); ``warn`` and
``audit`` labels are not acted on. :func:`admit` is an admission hook of :class:`~.store.Store`.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError

__all__ = ["admit", "violations"]

LEVELS = ("privileged", "baseline", "restricted")
_BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                          "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
_SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                 "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                 "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                 "net.ipv4.tcp_keepalive_probes"}
_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                       "projected", "secret"}


def _containers(spec: dict) -> list[dict]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _names(containers: list[dict]) -> str:
    quoted = ", ".join(f'"{c.get("name", "")}"' for c in containers)
    return ("container " if len(containers) == 1 else "containers ") + quoted


def _verb(containers: list[dict], singular: str, plural: str) -> str:
    return singular if len(containers) == 1 else plural


def violations(spec: dict, level: str) -> list[str]:
    """The Pod Security Standards checks ``spec`` (a PodSpec) fails at ``level``, as admission words them."""
    if level not in ("baseline", "restricted"):
        return []
    found: list[str] = []
    pod_context = spec.get("securityContext") or {}
    containers = _containers(spec)

    def context(container: dict) -> dict:
        return container.get("securityContext") or {}

    host = [f"{name}=true" for name in ("hostNetwork", "hostPID", "hostIPC") if spec.get(name)]
    if host:
        found.append(f"host namespaces ({', '.join(host)})")
    privileged = [c for c in containers if context(c).get("privileged")]
    if privileged:
        found.append(f"privileged ({_names(privileged)} {_verb(privileged, 'must', 'must')} not set "
                     "securityContext.privileged=true)")
    added: dict[str, list[str]] = {}
    for container in containers:
        for capability in (context(container).get("capabilities") or {}).get("add") or []:
            if capability not in _BASELINE_CAPABILITIES:
                added.setdefault(container.get("name", ""), []).append(capability)
    if added:
        parts = [f'container "{name}" must not include {", ".join(chr(34) + c + chr(34) for c in caps)} in '
                 "securityContext.capabilities.add" for name, caps in added.items()]
        found.append(f"non-default capabilities ({'; '.join(parts)})")
    host_paths = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if host_paths:
        label = "volume" if len(host_paths) == 1 else "volumes"
        found.append(f"hostPath volumes ({label} {', '.join(chr(34) + n + chr(34) for n in host_paths)})")
    host_ports = [(c, p.get("hostPort")) for c in containers for p in c.get("ports") or []
                  if isinstance(p, dict) and p.get("hostPort")]
    if host_ports:
        parts = [f'container "{c.get("name", "")}" uses hostPort {port}' for c, port in host_ports]
        found.append(f"hostPort ({', '.join(parts)})")
    unsafe = [s.get("name") for s in pod_context.get("sysctls") or [] if s.get("name") not in _SAFE_SYSCTLS]
    if unsafe:
        found.append(f"forbidden sysctls ({', '.join(unsafe)})")
    unconfined = []
    if (pod_context.get("seccompProfile") or {}).get("type") == "Unconfined":
        unconfined.append("pod")
    unconfined += [c for c in containers if (context(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if unconfined:
        who = "pod" if unconfined == ["pod"] else _names([c for c in unconfined if c != "pod"])
        found.append(f"seccompProfile ({who} must not set securityContext.seccompProfile.type to \"Unconfined\")")
    proc_mount = [c for c in containers if context(c).get("procMount") not in (None, "Default")]
    if proc_mount:
        found.append(f"procMount ({_names(proc_mount)} must not set securityContext.procMount to \"Unmasked\")")
    if level == "restricted":
        escalation = [c for c in containers if context(c).get("allowPrivilegeEscalation") is not False]
        if escalation:
            found.append(f"allowPrivilegeEscalation != false ({_names(escalation)} must set "
                         "securityContext.allowPrivilegeEscalation=false)")
        not_dropped = [c for c in containers
                       if "ALL" not in ((context(c).get("capabilities") or {}).get("drop") or [])]
        if not_dropped:
            found.append(f"unrestricted capabilities ({_names(not_dropped)} must set "
                         'securityContext.capabilities.drop=["ALL"])')
        restricted_volumes = [(v.get("name", ""), kind) for v in spec.get("volumes") or [] if isinstance(v, dict)
                              for kind in v if kind != "name" and kind not in _RESTRICTED_VOLUMES]
        if restricted_volumes:
            parts = ", ".join(f'"{name}"' for name, _ in restricted_volumes)
            kinds = ", ".join(sorted({f'"{kind}"' for _, kind in restricted_volumes}))
            label = "volume" if len(restricted_volumes) == 1 else "volumes"
            uses = "uses restricted volume type" if len(restricted_volumes) == 1 else "use restricted volume types"
            found.append(f"restricted volume types ({label} {parts} {uses} {kinds})")
        pod_non_root = pod_context.get("runAsNonRoot")
        non_root = [c for c in containers if context(c).get("runAsNonRoot") is not True and
                    not (pod_non_root is True and context(c).get("runAsNonRoot") is None)]
        if non_root:
            who = "pod or " + _names(non_root) if pod_non_root is not False else _names(non_root)
            found.append(f"runAsNonRoot != true ({who} must set securityContext.runAsNonRoot=true)")
        root_user = [c for c in containers if context(c).get("runAsUser") == 0]
        if pod_context.get("runAsUser") == 0 or root_user:
            who = "pod" if pod_context.get("runAsUser") == 0 and not root_user else _names(root_user)
            found.append(f"runAsUser=0 ({who} must not set runAsUser=0)")
        pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
        no_seccomp = [c for c in containers
                      if (context(c).get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost")
                      and not (pod_seccomp in ("RuntimeDefault", "Localhost")
                               and not (context(c).get("seccompProfile") or {}).get("type"))]
        if no_seccomp:
            who = "pod or " + _names(no_seccomp)
            found.append(f"seccompProfile ({who} must set securityContext.seccompProfile.type to \"RuntimeDefault\" "
                         'or "Localhost")')
    return found


def admit(request: Any) -> None:
    """Refuse a pod that violates its namespace's enforced Pod Security level (an admission hook)."""
    rt = request.rt
    if request.operation != "CREATE" or rt.group != "" or rt.kind != "Pod" or request.obj is None:
        return
    store = request.store
    if store is None:
        return
    namespaces = store.resources.get("", "v1", "namespaces")
    namespace = store.try_get(namespaces, None, request.namespace)
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get("pod-security.kubernetes.io/enforce", "privileged")
    version = labels.get("pod-security.kubernetes.io/enforce-version", "latest")
    found = violations(request.obj.get("spec") or {}, level)
    if not found:
        return
    name = request.name
    raise ApiError(403, "Forbidden",
                   f'pods "{name}" is forbidden: violates PodSecurity "{level}:{version}": {", ".join(found)}',
                   {"name": name, "kind": "pods"})

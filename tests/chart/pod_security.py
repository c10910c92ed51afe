"""Pod Security Standard "restricted" at its latest version (Kubernetes 1.37), as a pure check
over a pod spec.

Covers every control of the baseline and restricted profiles that a pod spec can violate:
host namespaces, privileged, Windows HostProcess, capabilities, hostPath and volume types, host
ports, probe and lifecycle hosts, AppArmor, SELinux, /proc mount, seccomp, sysctls, privilege
escalation, running as non-root and as a non-zero uid, with the standard's relaxations for
Windows pods (no Linux-only settings needed) and pods in a user namespace (hostUsers: false
need not run as non-root). Returns readable violations; an empty list means the pod is admitted.
AppArmor annotations are metadata, not spec, and are not checked.

tests/real/test_pod_security_real.py compares its verdicts with the real API server's.
"""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]

RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}
ALLOWED_SELINUX_TYPES = {
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
}


def _containers(pod: Spec) -> list[tuple[str, Spec]]:
    found = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(field) or []:
            found.append((f"{field}[{container.get('name', '?')}]", container))
    return found


def _selinux_violations(where: str, options: Spec | None) -> list[str]:
    if not options:
        return []
    found = []
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        found.append(f"{where}.seLinuxOptions.type {options['type']!r} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            found.append(f"{where}.seLinuxOptions.{field} must not be set")
    return found


def restricted_violations(pod: Spec) -> list[str]:
    """Every way `pod` (a PodSpec) breaks the restricted Pod Security Standard."""
    found: list[str] = []
    pod_context: Spec = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            found.append(f"spec.{field} must not be true")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')!r} of type {sorted(kinds)} is not allowed")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')!r} is not allowed")
    found += _selinux_violations("spec.securityContext", pod_context.get("seLinuxOptions"))
    pod_apparmor = (pod_context.get("appArmorProfile") or {}).get("type")
    if pod_apparmor == "Unconfined":
        found.append("spec.securityContext.appArmorProfile must not be Unconfined")
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        found.append(f"spec.securityContext.seccompProfile.type {pod_seccomp!r} is not allowed")
    # A pod in its own user namespace is not root on the node: runAsNonRoot and runAsUser are
    # relaxed for it (policy version 1.35+).
    user_namespace = pod.get("hostUsers") is False
    if not user_namespace:
        if pod_context.get("runAsUser") == 0:
            found.append("spec.securityContext.runAsUser must not be 0")
        if pod_context.get("runAsNonRoot") is False:
            found.append("spec.securityContext.runAsNonRoot must not be false")
    if (pod_context.get("windowsOptions") or {}).get("hostProcess"):
        found.append("spec.securityContext.windowsOptions.hostProcess must not be true")
    windows = (pod.get("os") or {}).get("name") == "windows"
    for where, container in _containers(pod):
        found += _container_violations(where, container, pod_context, windows, user_namespace)
    return found


def _probe_hosts(container: Spec) -> list[str]:
    """Hosts named by the container's probes and lifecycle handlers (must be unset)."""
    handlers = [container.get(p) or {} for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    lifecycle = container.get("lifecycle") or {}
    handlers += [lifecycle.get(h) or {} for h in ("postStart", "preStop")]
    return [
        handler[kind]["host"]
        for handler in handlers
        for kind in ("httpGet", "tcpSocket")
        if (handler.get(kind) or {}).get("host")
    ]


def _container_violations(
    where: str, container: Spec, pod_context: Spec, windows: bool, user_namespace: bool
) -> list[str]:
    found: list[str] = []
    context: Spec = container.get("securityContext") or {}
    if context.get("privileged"):
        found.append(f"{where}: privileged must not be true")
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        found.append(f"{where}: windowsOptions.hostProcess must not be true")
    capabilities = context.get("capabilities") or {}
    # Windows pods cannot set these Linux-only fields (API validation), so need not.
    if not windows:
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation must be false")
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{where}: capabilities.drop must include ALL")
        seccomp = (context.get("seccompProfile") or {}).get("type")
        effective = seccomp or (pod_context.get("seccompProfile") or {}).get("type")
        if effective not in ALLOWED_SECCOMP:
            found.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost")
    added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        found.append(f"{where}: capabilities.add {sorted(added)} is not allowed")
    if not user_namespace:
        run_as_non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if run_as_non_root is not True:
            found.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if context.get("runAsUser") == 0:
            found.append(f"{where}: runAsUser must not be 0")
    for host in _probe_hosts(container):
        found.append(f"{where}: probe or lifecycle host {host!r} is not allowed")
    if (context.get("appArmorProfile") or {}).get("type") == "Unconfined":
        found.append(f"{where}: appArmorProfile must not be Unconfined")
    if context.get("procMount", "Default") != "Default":
        found.append(f"{where}: procMount must be Default")
    found += _selinux_violations(f"{where}.securityContext", context.get("seLinuxOptions"))
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            found.append(f"{where}: hostPort {port['hostPort']} is not allowed")
    return found


def runner_pod_violations(pod: Spec) -> list[str]:
    """What the project asks of runner pods beyond "restricted" (DESIGN.md, issue 7)."""
    found = restricted_violations(pod)
    if pod.get("automountServiceAccountToken") is not False:
        found.append("runner pods must set automountServiceAccountToken: false")
    for where, container in _containers(pod):
        if (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            found.append(f"{where}: readOnlyRootFilesystem must be true")
    return found

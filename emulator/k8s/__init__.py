"""A Kubernetes API behind every emulated EKS cluster (issue 12).

No kube-apiserver can run on the machines this project targets, so the
emulator serves one itself, in the emulator's process (it reads moto's IAM,
STS, EC2 and the emulator's EKS access entries directly). Real clients
(kubectl v1.35, helm v4.1, the Python ``kubernetes`` client behind
``kubernetes.core``) talk to it over HTTPS; they must not be able to tell.

Modules and the contracts between them (each module owns its file; nothing
here imports moto except ``auth``, ``clusters`` and ``eks_bridge``):

``schema``
    ``Schemas.for_version("1.35")``: the OpenAPI definitions of that
    Kubernetes version (``kubernetes_validate``'s ``v1.35.0-local/
    _definitions.json``), ``definition_for(api_version, kind)``,
    ``node(definition_name) -> SchemaNode`` and ``SchemaNode.from_openapi_v3
    (crd_schema)`` for custom resources. A ``SchemaNode`` knows its ``type``,
    ``property(name)``, ``items``, ``additional_properties``, the patch
    strategy and merge key, ``list_type``/``list_map_keys``/``map_type`` and
    ``preserve_unknown_fields``; an unknown shape is ``SchemaNode.UNKNOWN``
    (treated as atomic JSON).

``patch``
    ``json_patch(obj, operations)``, ``merge_patch(obj, patch)``,
    ``strategic_merge_patch(obj, patch, node)``: pure functions returning a
    new object, raising ``PatchError(message, status)`` (status 400 or 422).

``ssa``
    Server-side apply and ``metadata.managedFields`` (``fieldsV1``):
    ``apply(live, config, manager, force, node, now) -> dict`` (``live`` None
    on create) raising ``ApplyConflict(conflicts)`` where ``conflicts`` is a
    list of ``(manager, field_path_string)``; ``track_update(old, new,
    manager, node, now, operation="Update", subresource="") -> dict`` records
    the fields a non-apply write changed as owned by ``manager``.

``resources``
    ``BUILTIN``: the built-in resource table (group, version, kind, plural,
    singular, namespaced, short names, verbs, subresources, categories) and
    ``ResourceType`` (also made from a CRD's served versions).

``store``
    ``Store``: one cluster's objects, thread-safe. ``create(rt, obj,
    dry_run=False)``, ``get(rt, namespace, name)``, ``list(rt, namespace,
    label_selector, field_selector) -> (items, resource_version)``,
    ``update(rt, obj, dry_run=False)`` (409 on a stale resourceVersion),
    ``delete(rt, namespace, name, propagation, preconditions, dry_run)``
    (finalizers, ``deletionTimestamp``, owner-reference garbage collection,
    namespace termination), ``watch(rt, namespace, resource_version,
    selectors) -> iterator of (type, obj)``, ``subscribe(callback)`` for
    controllers. Errors are ``ApiError(status, reason, message, details)``
    which the server renders as a ``Status``.

``auth``
    ``authenticate(token, cluster) -> UserInfo | None`` (EKS's
    ``k8s-aws-v1.`` tokens, resolved through the emulator's STS/IAM and the
    cluster's access entries); ``authorize(user, attributes, store) ->
    (allowed, reason)`` (access policies, then RBAC objects in ``store``).

``apiserver``
    ``ApiServer(cluster_name, kubernetes_version, store, authn, authz, tls)``:
    the HTTPS server of one cluster on its own 127.0.0.1 port (discovery,
    OpenAPI v2/v3, CRUD, patch, apply, watch, dry-run, tables, admission).

``controllers`` (a package)
    What makes the store behave like a cluster (kwok-style): nodes from node
    groups, a scheduler, workload controllers and status, add-on workloads,
    EBS-backed volumes, load balancers, APIService availability,
    HorizontalPodAutoscalers, the External Secrets Operator. ``Controllers(store, cloud,
    durations=..., name=...)`` runs them on one thread per cluster, woken by
    ``store.subscribe`` and by timers; ``start()``, ``stop()``,
    ``sync(timeout)`` (look at the cloud now, wait until nothing is left to
    do), ``deployment_ready(namespace, name)``. The AWS side is a
    ``controllers.cloud.Cloud``: ``snapshot() -> ClusterInfo`` (node groups,
    add-ons, subnets), ``lb_subnets``, ``create_volume``/``delete_volume``,
    ``ensure_load_balancer``/``delete_load_balancer``,
    ``assume_role_with_web_identity`` (IRSA), ``get_secret_value`` (as a
    role, its policies evaluated by ``controllers.iam``); it never imports moto.

``eks_bridge``
    ``MotoCloud(ref)``, the ``Cloud`` over the emulator's EKS, EC2, ELBv2,
    IAM and Secrets Manager backends; ``attach(ref, server)`` / ``detach(ref, server)`` start and
    stop a cluster's controllers over ``server.store``; ``install()``
    subscribes them to ``clusters.REGISTRY`` (``Registry.subscribe``:
    "started"/"stopping") and hooks ``eks_addons`` so that an add-on running
    a Deployment is DEGRADED until its pods are Ready.

``aggregator``, ``metrics``
    API aggregation: the groups of APIServices naming a Service (listed in
    discovery; answered while ``Available``, 503 otherwise) and the one
    emulated server behind them, ``metrics.MetricsApi`` (``metrics.k8s.io/
    v1beta1`` as metrics-server answers it, over a deterministic usage model
    that the HPA controller reads too).

``clusters``
    The registry tying an EKS cluster of the emulator to its API: started
    when the cluster becomes ACTIVE (``DescribeCluster`` then returns its
    ``endpoint`` and ``certificateAuthority.data``), stopped when it is
    deleted or the emulator is reset.
"""

"""Stand-in Helm charts the emulator serves as a chart repository (see README.md here).

The chart directories (``cluster-autoscaler/``, ``aws-load-balancer-controller/``,
``external-secrets/``, ``trivy-operator/``, ``falco/``) are data;
:mod:`emulator.charts.repo` packages and serves them under ``/_emulator/charts/``,
:mod:`emulator.charts.make_schema` writes their ``values.schema.json``.
"""

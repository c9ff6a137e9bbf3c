# The same resources as roles/iam, roles/vpc, roles/eks and roles/nodegroups with
# their defaults and inventories/local/group_vars (names derive from var.cluster_name).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  repo_root = var.repo_root != "" ? var.repo_root : "${path.module}/../.."
  name      = var.cluster_name
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = var.region

  # The values the roles give the ${name} placeholders of their policy documents (roles/*/files/*-policy.json,
  # iam_policy_values and eks_policy_values), which Terraform's templatefile fills the same way.
  policy_values = {
    partition    = local.partition
    region       = local.region
    account_id   = local.account
    cluster_name = local.name
    secrets_path = "llmhub/${local.name}/"
  }

  # llmhub_tags of inventories/local + the cluster tag every role adds.
  tags = {
    Project             = "llm-analytics-hub"
    Environment         = "local"
    ManagedBy           = "terraform"
    "llmhub.io/cluster" = var.cluster_name
  }

  # ---------------------------------------------------------------- vpc role
  vpc_cidr = "10.0.0.0/16"
  azs      = ["${var.region}a", "${var.region}b", "${var.region}c"]
  # plugins/filter/network.py derive_subnets: private /20s from the start, public
  # /24s right after them, intra /24s in the next block aligned to 4 (3 AZs).
  subnets = merge(
    { for i, az in local.azs : "private-${az}" => { tier = "private", az = az, cidr = cidrsubnet(local.vpc_cidr, 4, i) } },
    { for i, az in local.azs : "public-${az}" => { tier = "public", az = az, cidr = cidrsubnet(local.vpc_cidr, 8, 48 + i) } },
    { for i, az in local.azs : "intra-${az}" => { tier = "intra", az = az, cidr = cidrsubnet(local.vpc_cidr, 8, 52 + i) } },
  )
  tier_tags = {
    private = { "kubernetes.io/role/internal-elb" = "1", "kubernetes.io/cluster/${var.cluster_name}" = "shared" }
    public  = { "kubernetes.io/role/elb" = "1", "kubernetes.io/cluster/${var.cluster_name}" = "shared" }
    intra   = { "kubernetes.io/cluster/${var.cluster_name}" = "shared" }
  }
  private_subnet_ids = [for az in local.azs : aws_subnet.this["private-${az}"].id]

  security_groups = {
    cluster         = "EKS cluster control plane"
    node            = "EKS worker nodes"
    "vpc-endpoints" = "VPC interface endpoints"
    database        = "Stateful workloads"
    alb             = "Application load balancers"
  }
  # vpc_security_groups' ingress, one entry per rule and source (ports "all" -> -1).
  ingress_rules = {
    "cluster-443-vpc"    = { sg = "cluster", proto = "tcp", from = 443, to = 443, cidr = local.vpc_cidr, description = "Kubernetes API from allowed CIDRs" }
    "cluster-443-node"   = { sg = "cluster", proto = "tcp", from = 443, to = 443, group = "node", description = "Kubernetes API from nodes" }
    "node-all-self"      = { sg = "node", proto = "-1", group = "node", description = "Node to node" }
    "node-443-cluster"   = { sg = "node", proto = "tcp", from = 443, to = 443, group = "cluster", description = "Control plane to kubelet and webhooks" }
    "node-10250-cluster" = { sg = "node", proto = "tcp", from = 10250, to = 10250, group = "cluster", description = "Control plane to kubelet metrics" }
    "node-ports-cluster" = { sg = "node", proto = "tcp", from = 1025, to = 65535, group = "cluster", description = "Control plane to node ports" }
    "node-all-alb"       = { sg = "node", proto = "-1", group = "alb", description = "Load balancers to pods" }
    "vpce-443-vpc"       = { sg = "vpc-endpoints", proto = "tcp", from = 443, to = 443, cidr = local.vpc_cidr, description = "HTTPS from the VPC" }
    "db-5432-node"       = { sg = "database", proto = "tcp", from = 5432, to = 5432, group = "node", description = "PostgreSQL from nodes" }
    "db-8086-node"       = { sg = "database", proto = "tcp", from = 8086, to = 8086, group = "node", description = "InfluxDB from nodes" }
    "db-6379-node"       = { sg = "database", proto = "tcp", from = 6379, to = 6379, group = "node", description = "Redis from nodes" }
    "alb-80-any"         = { sg = "alb", proto = "tcp", from = 80, to = 80, cidr = "0.0.0.0/0", description = "HTTP" }
    "alb-443-any"        = { sg = "alb", proto = "tcp", from = 443, to = 443, cidr = "0.0.0.0/0", description = "HTTPS" }
  }
  interface_endpoints = ["ecr.api", "ecr.dkr", "ec2", "logs", "sts", "elasticloadbalancing", "autoscaling"]

  # ---------------------------------------------------------------- eks role
  oidc_host = replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
  irsa_roles = {
    "ebs-csi-driver"               = { namespace = "kube-system", sa = "ebs-csi-controller-sa", managed = ["service-role/AmazonEBSCSIDriverPolicy"] }
    "cluster-autoscaler"           = { namespace = "kube-system", sa = "cluster-autoscaler", managed = [] }
    "aws-load-balancer-controller" = { namespace = "kube-system", sa = "aws-load-balancer-controller", managed = [] }
    "cloudwatch-observability"     = { namespace = "amazon-cloudwatch", sa = "cloudwatch-agent", managed = ["CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess"] }
    "external-secrets"             = { namespace = "external-secrets", sa = "external-secrets", managed = [] }
  }
  irsa_managed = merge([for role, spec in local.irsa_roles : { for p in spec.managed : "${role}/${p}" => { role = role, policy = p } }]...)
  irsa_inline = {
    "ebs-csi-driver"               = { name = "cluster-kms-key", file = "ebs-csi-kms-policy.json" }
    "cluster-autoscaler"           = { name = "cluster-autoscaler", file = "cluster-autoscaler-policy.json" }
    "aws-load-balancer-controller" = { name = "aws-load-balancer-controller", file = "aws-load-balancer-controller-policy.json" }
    "external-secrets"             = { name = "read-cluster-secrets", file = "external-secrets-policy.json" }
  }

  # ---------------------------------------------------------- nodegroups role
  nodegroups = {
    system = {
      instance_types = ["m5.xlarge"], capacity_type = "ON_DEMAND"
      min            = 2, desired = 3, max = 4, disk = 100, iops = 3000, throughput = null
      labels         = { role = "system" }, taints = []
    }
    application = {
      instance_types = ["m5.2xlarge", "m5a.2xlarge", "m5n.2xlarge"], capacity_type = "SPOT"
      min            = 3, desired = 5, max = 10, disk = 200, iops = 3000, throughput = null
      labels         = { role = "application" }, taints = []
    }
    database = {
      instance_types = ["r5.2xlarge"], capacity_type = "ON_DEMAND"
      min            = 3, desired = 4, max = 6, disk = 500, iops = 3000, throughput = 125
      labels         = { role = "database" }, taints = [{ key = "workload", value = "database", effect = "NO_SCHEDULE" }]
    }
  }
}

# =============================================================================
# iam role: cluster role, node role (+ instance profile), KMS key of secrets
# =============================================================================

resource "aws_iam_role" "cluster" {
  name               = "${local.name}-cluster-role"
  description        = "EKS control plane of ${local.name}"
  assume_role_policy = file("${local.repo_root}/roles/iam/files/cluster-trust-policy.json")
}

resource "aws_iam_role_policy_attachment" "cluster" {
  for_each   = toset(["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"])
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_role_policy" "cluster_kms" {
  name   = "kms-secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = jsonencode(jsondecode(templatefile("${local.repo_root}/roles/iam/files/cluster-kms-policy.json", local.policy_values)))
}

resource "aws_iam_role" "node" {
  name               = "${local.name}-node-role"
  description        = "EC2 worker nodes of ${local.name}"
  assume_role_policy = file("${local.repo_root}/roles/iam/files/node-trust-policy.json")
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each   = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"])
  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_role_policy" "node_cloudwatch" {
  name   = "cloudwatch-agent"
  role   = aws_iam_role.node.id
  policy = jsonencode(jsondecode(templatefile("${local.repo_root}/roles/iam/files/node-cloudwatch-policy.json", local.policy_values)))
}

resource "aws_iam_role_policy" "node_ebs" {
  name   = "ebs-volumes"
  role   = aws_iam_role.node.id
  policy = jsonencode(jsondecode(templatefile("${local.repo_root}/roles/iam/files/node-ebs-policy.json", local.policy_values)))
}

resource "aws_iam_instance_profile" "node" {
  name = aws_iam_role.node.name
  role = aws_iam_role.node.name
}

resource "aws_kms_key" "secrets" {
  description             = "Envelope encryption of Kubernetes secrets of ${local.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  # A Terraform template puts strings only inside a string: the one administrator (the account) as a string,
  # which KMS takes as it takes a list of one (the iam role passes the list).
  policy = jsonencode(jsondecode(templatefile("${local.repo_root}/roles/iam/files/kms-key-policy.json", merge(local.policy_values, {
    administrators   = "arn:${local.partition}:iam::${local.account}:root"
    cluster_role_arn = aws_iam_role.cluster.arn
  }))))
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.secrets.key_id
}

# =============================================================================
# vpc role: VPC, subnets, security groups (network.yml), then the edge (edge.yml)
# =============================================================================

resource "aws_vpc" "this" {
  cidr_block           = local.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${local.name}-vpc" }
}

resource "aws_subnet" "this" {
  for_each                = local.subnets
  vpc_id                  = aws_vpc.this.id
  cidr_block              = each.value.cidr
  availability_zone       = each.value.az
  map_public_ip_on_launch = false
  tags                    = merge({ Name = "${local.name}-${each.key}", "llmhub.io/tier" = each.value.tier }, local.tier_tags[each.value.tier])
}

resource "aws_security_group" "this" {
  for_each    = local.security_groups
  name        = "${local.name}-${each.key}"
  description = each.value
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${local.name}-${each.key}" }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each                     = local.ingress_rules
  security_group_id            = aws_security_group.this[each.value.sg].id
  ip_protocol                  = each.value.proto
  from_port                    = lookup(each.value, "from", null)
  to_port                      = lookup(each.value, "to", null)
  cidr_ipv4                    = lookup(each.value, "cidr", null)
  referenced_security_group_id = contains(keys(each.value), "group") ? aws_security_group.this[each.value.group].id : null
  description                  = each.value.description
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each          = local.security_groups
  security_group_id = aws_security_group.this[each.key].id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "All egress"
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${local.name}-igw" }
}

resource "aws_eip" "nat" {
  for_each = toset(local.azs)
  domain   = "vpc"
  tags     = { Name = "${local.name}-nat-${each.key}" }
}

resource "aws_nat_gateway" "this" {
  for_each      = toset(local.azs)
  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.this["public-${each.key}"].id
  tags          = { Name = "${local.name}-nat-${each.key}" }
  depends_on    = [aws_internet_gateway.this]
}

# One route table per subnet, as the role makes them.
resource "aws_route_table" "this" {
  for_each = local.subnets
  vpc_id   = aws_vpc.this.id
  tags     = { Name = "${local.name}-${each.key}", "llmhub.io/tier" = each.value.tier }
}

resource "aws_route_table_association" "this" {
  for_each       = local.subnets
  subnet_id      = aws_subnet.this[each.key].id
  route_table_id = aws_route_table.this[each.key].id
}

resource "aws_route" "public_internet" {
  for_each               = toset(local.azs)
  route_table_id         = aws_route_table.this["public-${each.key}"].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route" "private_nat" {
  for_each               = toset(local.azs)
  route_table_id         = aws_route_table.this["private-${each.key}"].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[each.key].id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for k, v in local.subnets : aws_route_table.this[k].id if v.tier != "public"]
  tags              = { Name = "${local.name}-s3" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(local.interface_endpoints)
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.private_subnet_ids
  security_group_ids  = [aws_security_group.this["vpc-endpoints"].id]
  private_dns_enabled = true
  tags                = { Name = "${local.name}-${replace(each.key, ".", "-")}" }
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${local.name}/flow-logs"
  retention_in_days = 14
}

resource "aws_iam_role" "flow_logs" {
  name = "${local.name}-vpc-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "deliver-vpc-flow-logs"
  role = aws_iam_role.flow_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "DeliverFlowLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:log-stream:*"]
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 600
}

# =============================================================================
# eks role: cluster + log group, OIDC provider, IRSA roles, add-ons, access
# =============================================================================

resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${local.name}/cluster"
  retention_in_days = 30
}

resource "aws_eks_cluster" "this" {
  name                      = local.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  vpc_config {
    subnet_ids              = local.private_subnet_ids
    security_group_ids      = [aws_security_group.this["cluster"].id]
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.secrets.arn
    }
  }

  access_config {
    authentication_mode                         = "API_AND_CONFIG_MAP"
    bootstrap_cluster_creator_admin_permissions = true
  }

  depends_on = [
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_kms,
    aws_cloudwatch_log_group.cluster,
  ]
}

resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_iam_role" "irsa" {
  for_each = local.irsa_roles
  name     = "${local.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = aws_iam_openid_connect_provider.this.arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_host}:sub" = "system:serviceaccount:${each.value.namespace}:${each.value.sa}"
          "${local.oidc_host}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "irsa" {
  for_each   = local.irsa_managed
  role       = aws_iam_role.irsa[each.value.role].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value.policy}"
}

# The eks role's own policy documents (roles/eks/files/*-policy.json), whose
# ${name} placeholders are Terraform's template syntax too (local.policy_values).
resource "aws_iam_role_policy" "irsa" {
  for_each = local.irsa_inline
  name     = each.value.name
  role     = aws_iam_role.irsa[each.key].id
  policy   = jsonencode(jsondecode(templatefile("${local.repo_root}/roles/eks/files/${each.value.file}", local.policy_values)))
}

data "aws_eks_addon_version" "latest" {
  for_each           = toset(["vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"])
  addon_name         = each.key
  kubernetes_version = aws_eks_cluster.this.version
  most_recent        = true
}

resource "aws_eks_addon" "vpc_cni" {
  cluster_name  = aws_eks_cluster.this.name
  addon_name    = "vpc-cni"
  addon_version = data.aws_eks_addon_version.latest["vpc-cni"].version
  configuration_values = jsonencode({
    env                 = { ENABLE_PREFIX_DELEGATION = "true", WARM_PREFIX_TARGET = "1" }
    enableNetworkPolicy = "true"
  })
}

resource "aws_eks_addon" "kube_proxy" {
  cluster_name  = aws_eks_cluster.this.name
  addon_name    = "kube-proxy"
  addon_version = data.aws_eks_addon_version.latest["kube-proxy"].version
}

# After the node groups: they stay DEGRADED without nodes.
resource "aws_eks_addon" "coredns" {
  cluster_name  = aws_eks_cluster.this.name
  addon_name    = "coredns"
  addon_version = data.aws_eks_addon_version.latest["coredns"].version
  depends_on    = [aws_eks_node_group.this]
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name             = aws_eks_cluster.this.name
  addon_name               = "aws-ebs-csi-driver"
  addon_version            = data.aws_eks_addon_version.latest["aws-ebs-csi-driver"].version
  service_account_role_arn = aws_iam_role.irsa["ebs-csi-driver"].arn
  configuration_values = jsonencode({
    controller = { extraVolumeTags = local.tags }
  })
  depends_on = [aws_eks_node_group.this]
}

# eks_access_entries: an admin principal with AmazonEKSClusterAdminPolicy on the
# cluster (the deployer's entry of the role; the emulator's default caller is
# not an IAM principal, so the twin gives the entry to a role of its own).
resource "aws_iam_role" "admin" {
  name = "${local.name}-platform-admin"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_eks_access_entry" "admin" {
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_iam_role.admin.arn
  type          = "STANDARD"
}

resource "aws_eks_access_policy_association" "admin" {
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
  access_scope {
    type = "cluster"
  }
}

# =============================================================================
# nodegroups role: one launch template per group, the managed node groups
# =============================================================================

resource "aws_launch_template" "this" {
  for_each               = local.nodegroups
  name                   = "${local.name}-${each.key}"
  ebs_optimized          = true
  vpc_security_group_ids = [aws_security_group.this["node"].id]
  update_default_version = true

  monitoring {
    enabled = true
  }

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    http_endpoint               = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = each.value.disk
      volume_type           = "gp3"
      iops                  = each.value.iops
      throughput            = each.value.throughput
      encrypted             = "true"
      delete_on_termination = "true"
    }
  }

  dynamic "tag_specifications" {
    for_each = ["instance", "volume", "network-interface"]
    content {
      resource_type = tag_specifications.value
      tags          = merge(local.tags, { "llmhub.io/nodegroup" = each.key, Name = "${local.name}-${each.key}" })
    }
  }

  tags = { "llmhub.io/nodegroup" = each.key }
}

resource "aws_eks_node_group" "this" {
  for_each        = local.nodegroups
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = local.private_subnet_ids
  instance_types  = each.value.instance_types
  capacity_type   = each.value.capacity_type
  ami_type        = "AL2023_x86_64_STANDARD"
  labels          = each.value.labels

  scaling_config {
    min_size     = each.value.min
    desired_size = each.value.desired
    max_size     = each.value.max
  }

  update_config {
    max_unavailable = 1
  }

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = tostring(aws_launch_template.this[each.key].latest_version)
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  tags = {
    "llmhub.io/nodegroup"                     = each.key
    "k8s.io/cluster-autoscaler/enabled"       = "true"
    "k8s.io/cluster-autoscaler/${local.name}" = "owned"
  }

  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_eks_addon.vpc_cni,
    aws_eks_addon.kube_proxy,
    aws_route.private_nat,
  ]
}

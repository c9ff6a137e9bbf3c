variable "endpoint_url" {
  description = "URL of the local AWS emulator (AWS_ENDPOINT_URL of `python -m emulator run`)."
  type        = string
}

variable "region" {
  description = "AWS region (inventories/local: llmhub_aws_region)."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "EKS cluster name; every other name derives from it. Distinct from the Ansible platform's."
  type        = string
  default     = "tf-twin"
}

variable "kubernetes_version" {
  description = "roles/eks eks_version."
  type        = string
  default     = "1.35"
}

variable "public_access_cidrs" {
  description = "inventories/local eks_public_access_cidrs."
  type        = list(string)
  default     = ["198.51.100.0/24", "203.0.113.0/24"]
}

variable "repo_root" {
  description = "Checkout of the collection, whose roles' policy files this configuration reads; empty: two levels above this module (benchmarks/terraform)."
  type        = string
  default     = ""
}

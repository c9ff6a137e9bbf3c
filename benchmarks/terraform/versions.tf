# Terraform twin of the platform's AWS layers (site.yml --tags iam,vpc,eks,nodegroups
# on inventories/local), for benchmarks/terraform_plan.sh: `terraform plan` against
# the local emulator next to Ansible's no-op re-run. Not a supported way to deploy.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

# Every service the configuration calls goes to the emulator (one URL for all).
provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false # the emulator serves STS GetCallerIdentity
  s3_use_path_style           = true

  endpoints {
    ec2  = var.endpoint_url
    eks  = var.endpoint_url
    iam  = var.endpoint_url
    kms  = var.endpoint_url
    logs = var.endpoint_url
    sts  = var.endpoint_url
  }

  default_tags {
    tags = local.tags
  }
}

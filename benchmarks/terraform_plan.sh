#!/usr/bin/env bash
# Times `terraform plan` (a no-op after apply) of benchmarks/terraform/, the
# Terraform twin of the platform's AWS layers, against the local AWS emulator.
#
#   benchmarks/terraform_plan.sh <endpoint-url> <workdir>
#
# e.g. .venv/bin/python -m emulator run --profile instant -- \
#        bash -c 'benchmarks/terraform_plan.sh "$AWS_ENDPOINT_URL" /tmp/tfbench'
# (AWS_ENDPOINT_URL is set by `emulator run` for its command only, hence bash -c
# with single quotes; an empty <endpoint-url> or "-" also means $AWS_ENDPOINT_URL.)
#
# Offline: the hashicorp/aws provider comes from the filesystem mirror
# (TF_PLUGIN_MIRROR, default /opt/tf-plugins). The configuration is copied to
# <workdir>, where the provider, the lock file and the state stay (nothing is
# written in the checkout). Then: init, apply -auto-approve, `terraform state
# list`, and TF_PLAN_RUNS (default 3) times `terraform plan -detailed-exitcode
# -refresh=true`, each with its wall time, exit code (0 no changes, 2 changes:
# the resources are listed) and, from the emulator's request log, the AWS
# calls it made. Exits 0 when apply succeeded and every plan found no change.
# TF_PLAN_ONLY=1 skips init and apply (a workdir applied by an earlier call).
#
# State: TF_BACKEND=s3 (the default) keeps it as the infrastructure overview's
# setup does, in an S3 bucket with a DynamoDB lock table (both made in the
# emulator here: tf-twin-state, tf-twin-locks), so every plan takes and gives
# back a lock and reads the state from S3, as ours takes the deploy lock;
# TF_BACKEND=local keeps it in <workdir> without a lock.
set -euo pipefail

endpoint=${1:-}
[ "$endpoint" = "-" ] && endpoint=""
endpoint=${endpoint:-${AWS_ENDPOINT_URL:-}}
if [ $# -ne 2 ] || [ -z "$endpoint" ] || [ -z "$2" ]; then
    echo "usage: $0 <endpoint-url> <workdir>" >&2
    exit 2
fi
endpoint=${endpoint%/}
workdir=$2
runs=${TF_PLAN_RUNS:-3}
mirror=${TF_PLUGIN_MIRROR:-/opt/tf-plugins}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
terraform=${TERRAFORM:-terraform}

backend=${TF_BACKEND:-s3}
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
cp "$repo"/benchmarks/terraform/*.tf "$workdir"/
case $backend in
    s3)
        cat >"$workdir/backend.tf" <<'EOF'
# Written by benchmarks/terraform_plan.sh (TF_BACKEND=s3): the overview's S3 state with DynamoDB locking.
terraform {
  backend "s3" {}
}
EOF
        cat >"$workdir/backend.hcl" <<EOF
bucket                      = "tf-twin-state"
key                         = "tf-twin/terraform.tfstate"
region                      = "${AWS_REGION:-us-east-1}"
dynamodb_table              = "tf-twin-locks"
use_path_style              = true
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
skip_region_validation      = true
endpoints = {
  s3       = "$endpoint"
  dynamodb = "$endpoint"
  sts      = "$endpoint"
  iam      = "$endpoint"
}
EOF
        ;;
    local) rm -f "$workdir/backend.tf" "$workdir/backend.hcl" ;;
    *) echo "TF_BACKEND must be s3 or local, not $backend" >&2; exit 2 ;;
esac

cat >"$workdir/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$workdir/terraformrc"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_WORKSPACE TF_LOG
export TF_VAR_endpoint_url="$endpoint" TF_VAR_repo_root="$repo"
# The emulator's fake credentials (also set by `python -m emulator run`).
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=${AWS_REGION:-us-east-1}
[ -z "${TF_VAR_region:-}" ] && export TF_VAR_region="$AWS_REGION"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN

tf() { "$terraform" -chdir="$workdir" "$@"; }
exec 3>&1  # the console, for timings of commands whose output goes to a log

# Number of entries of the emulator's request log (-1 when it has none).
log_length() {
    curl -fsS "$endpoint/_emulator/requests" 2>/dev/null | jq length 2>/dev/null || echo -1
}

# Calls of the request log from entry $1 on: total, mutating, by operation.
log_summary() {
    curl -fsS "$endpoint/_emulator/requests" | jq -r --argjson from "$1" '
        .[$from:] as $calls
        | ($calls | map(select(.operation | test("^(Describe|List|Get|Head)") | not))) as $writes
        | "\($calls | length) AWS calls, \($writes | length) mutating\(if ($writes | length) > 0 then " (" + ($writes | map(.service + ":" + .operation) | unique | join(", ")) + ")" else "" end); "
          + ($calls | group_by(.service) | map("\(.[0].service) \(length)") | join(", "))'
}

timed() {  # timed <label> <command...>: runs it, prints its wall time, returns its status
    local label=$1 start end rc=0
    shift
    start=$(date +%s.%N)
    "$@" || rc=$?
    end=$(date +%s.%N)
    awk -v l="$label" -v s="$start" -v e="$end" 'BEGIN { printf "%s: %.1f s\n", l, e - s }' >&3
    return $rc
}

if [ -n "${TF_PLAN_ONLY:-}" ]; then
    : # TF_PLAN_ONLY=1: the workdir was applied by an earlier call against this emulator; plan only
else
echo "== terraform $("$terraform" version | head -1 | cut -d' ' -f2), config $repo/benchmarks/terraform, state $workdir"
if [ "$backend" = s3 ]; then
    # the state bucket and the lock table (LockID, as Terraform's S3 backend requires), once per emulator
    aws --endpoint-url "$endpoint" s3api head-bucket --bucket tf-twin-state >/dev/null 2>&1 \
        || aws --endpoint-url "$endpoint" s3api create-bucket --bucket tf-twin-state >/dev/null
    aws --endpoint-url "$endpoint" dynamodb describe-table --table-name tf-twin-locks >/dev/null 2>&1 \
        || aws --endpoint-url "$endpoint" dynamodb create-table --table-name tf-twin-locks \
               --attribute-definitions AttributeName=LockID,AttributeType=S \
               --key-schema AttributeName=LockID,KeyType=HASH --billing-mode PAY_PER_REQUEST >/dev/null
    timed "init" tf init -input=false -no-color -backend-config=backend.hcl >"$workdir/init.log" \
        || { cat "$workdir/init.log"; exit 1; }
else
    timed "init" tf init -input=false -no-color >"$workdir/init.log" || { cat "$workdir/init.log"; exit 1; }
fi

before=$(log_length)
if ! timed "apply" tf apply -auto-approve -input=false -no-color >"$workdir/apply.log" 2>&1; then
    tail -n 60 "$workdir/apply.log"
    echo "apply FAILED (whole log: $workdir/apply.log)" >&2
    exit 1
fi
grep -E '^Apply complete' "$workdir/apply.log" || true
[ "$before" -ge 0 ] && echo "apply: $(log_summary "$before")"
tf state list >"$workdir/state.list"
echo "resources in state: $(grep -vc '^data\.' "$workdir/state.list") managed + $(grep -c '^data\.' "$workdir/state.list") data sources ($(wc -l <"$workdir/state.list") lines of \`terraform state list\`)"
fi

status=0
for i in $(seq 1 "$runs"); do
    before=$(log_length)
    set +e
    /usr/bin/time -f '%e %U %S' -o "$workdir/plan-$i.time" \
        "$terraform" -chdir="$workdir" plan -detailed-exitcode -refresh=true -input=false -no-color \
        >"$workdir/plan-$i.log" 2>&1
    code=$?
    set -e
    # (time prefixes "Command exited with non-zero status N" when the plan exits 2)
    read -r wall user sys < <(tail -n 1 "$workdir/plan-$i.time") || true
    case $code in
        0) verdict="no changes" ;;
        2) verdict="CHANGES (drift)"; status=1 ;;
        *) verdict="FAILED"; status=1 ;;
    esac
    echo "plan $i: wall ${wall} s (user ${user} s, sys ${sys} s), exit code $code: $verdict"
    [ "$before" -ge 0 ] && echo "  $(log_summary "$before")"
    if grep -q 'Objects have changed outside of Terraform' "$workdir/plan-$i.log"; then
        echo "  refresh saw changes outside of Terraform:"
        grep -E '^  # .* has changed' "$workdir/plan-$i.log" | sed 's/^/  /'
    fi
    case $code in
        2) grep -E '^  # .* (will|must) be' "$workdir/plan-$i.log" | sed 's/^/  /'
           echo "  (whole plan: $workdir/plan-$i.log)" ;;
        0) ;;
        *) tail -n 30 "$workdir/plan-$i.log" ;;
    esac
done
exit $status

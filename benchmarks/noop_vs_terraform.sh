#!/usr/bin/env bash
# The bar of issue 11: a no-op re-run of the AWS layers no slower than
# `terraform plan` of the same platform. Both in one emulator, alternating, so
# that the machine's noise falls on both alike; prints each run and the ratio
# of the means.
#
#   .venv/bin/python -m emulator run --profile instant -- bash benchmarks/noop_vs_terraform.sh [N] [workdir]
#   (or `make bench-terraform`)
#
# Builds the platform with site.yml (inventories/local) and the Terraform twin
# (benchmarks/terraform/, 118 resources, cluster tf-twin) with
# benchmarks/terraform_plan.sh, then N times (default 5): `ansible-playbook
# playbooks/site.yml --tags iam,vpc,eks,nodegroups` (must report changed=0)
# and `terraform plan -detailed-exitcode` (must report no change). Terraform's
# state is in S3 with a DynamoDB lock, as the infrastructure overview sets it
# up (TF_BACKEND=local: in the workdir, no lock), so that each plan takes a
# lock as each of our runs takes the deploy lock.
set -euo pipefail
runs=${1:-5}
workdir=${2:-$(mktemp -d)}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
: "${AWS_ENDPOINT_URL:?run it inside the emulator: python -m emulator run -- bash $0}"
export ANSIBLE_CONFIG=$repo/ansible.cfg PATH=$repo/.venv/bin:$PATH
times=$workdir/times
mkdir -p "$workdir" && : >"$times"

ansible-playbook playbooks/setup.yml >"$workdir/setup.log" 2>&1 || { tail -30 "$workdir/setup.log"; exit 1; }
ansible-playbook playbooks/site.yml >"$workdir/deploy.log" 2>&1 || { tail -30 "$workdir/deploy.log"; exit 1; }
TF_PLAN_RUNS=1 bash benchmarks/terraform_plan.sh "$AWS_ENDPOINT_URL" "$workdir/tf" >"$workdir/tf-apply.log" 2>&1 \
    || { tail -30 "$workdir/tf-apply.log"; exit 1; }
# one untimed no-op each (the fork server, the provider's first start)
ansible-playbook playbooks/site.yml --tags iam,vpc,eks,nodegroups >/dev/null 2>&1

for i in $(seq 1 "$runs"); do
    /usr/bin/time -f "ansible %e %U" -a -o "$times" \
        ansible-playbook playbooks/site.yml --tags iam,vpc,eks,nodegroups >"$workdir/noop-$i.log" 2>&1
    grep -q 'changed=0 ' "$workdir/noop-$i.log" || { echo "no-op $i changed something: $workdir/noop-$i.log"; exit 1; }
    start=$(date +%s.%N)
    TF_PLAN_ONLY=1 TF_PLAN_RUNS=1 bash benchmarks/terraform_plan.sh "$AWS_ENDPOINT_URL" "$workdir/tf" \
        >"$workdir/plan-$i.log" 2>&1 || { cat "$workdir/plan-$i.log"; exit 1; }
    wall=$(sed -n 's/^plan 1: wall \([0-9.]*\) s (user \([0-9.]*\) s.*/\1 \2/p' "$workdir/plan-$i.log")
    echo "terraform $wall" >>"$times"
    tail -n 2 "$times" | tr '\n' ' '; echo
done
# means and medians (one slow round moves a mean of five by a tenth of a second on these machines)
sort -k1,1 -k2,2n "$times" | awk '
    {w[$1]+=$2; u[$1]+=$3; n[$1]++; v[$1, n[$1]]=$2}
    function median(k,   m) { m = n[k]; return m % 2 ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2 }
    END {for (k in w) printf "%-9s mean wall %.2f s, median %.2f s, user %.2f s (n=%d)\n", k, w[k]/n[k], median(k), u[k]/n[k], n[k]
         printf "ratio ansible/terraform (wall): %.2f of the means, %.2f of the medians\n",
                (w["ansible"]/n["ansible"]) / (w["terraform"]/n["terraform"]), median("ansible") / median("terraform")}'

#!/usr/bin/env bash
# The halt an on-call engineer would script today with the AWS CLI, kubectl and curl: one call per target, no
# snapshot, no verification, no pacing. Usage:
#   shell-runbook.sh TARGETS_FILE PARALLELISM
# TARGETS_FILE has one "KIND NAME" line per target, KIND one of lambda, role, deployment, statefulset, flag
# (the engineer is handed the lists; discovering them is not timed). PARALLELISM 1 runs the calls one after the
# other; above 1 runs them through `xargs -P`. Needs SANDBOX_URL, KUBECONFIG, LD_API_TOKEN and AWS credentials in
# the environment. Prints the number of failed calls on stdout; exits 0 either way.
set -uo pipefail

targets_file=$1
parallelism=$2
: "${SANDBOX_URL:?}" "${KUBECONFIG:?}" "${LD_API_TOKEN:?}"

halt_one() {
  local kind=$1 name=$2
  case $kind in
    lambda)
      aws --endpoint-url "$SANDBOX_URL" --region us-east-1 lambda put-function-concurrency \
        --function-name "$name" --reserved-concurrent-executions 0 >/dev/null ;;
    role)
      aws --endpoint-url "$SANDBOX_URL" --region us-east-1 iam put-role-policy --role-name "$name" \
        --policy-name killswitch-deny-all \
        --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}' ;;
    deployment | statefulset)
      kubectl --kubeconfig "$KUBECONFIG" --namespace agents scale "$kind/$name" --replicas=0 >/dev/null ;;
    flag)
      curl --silent --show-error --fail --output /dev/null --request PATCH \
        "$SANDBOX_URL/api/v2/flags/agents/$name" \
        --header "Authorization: $LD_API_TOKEN" \
        --header 'Content-Type: application/json; domain-model=launchdarkly.semanticpatch' \
        --data '{"environmentKey":"production","instructions":[{"kind":"turnFlagOff"}]}' ;;
    *) echo "unknown target kind: $kind" >&2; return 1 ;;
  esac
}
export -f halt_one

if [ "$parallelism" -le 1 ]; then
  failed=0
  while read -r kind name; do
    halt_one "$kind" "$name" || failed=$((failed + 1))
  done <"$targets_file"
  echo "$failed"
else
  # Each call prints a line when it fails; the count of lines is the count of failures.
  xargs -P "$parallelism" -L 1 bash -c 'halt_one "$0" "$1" || echo failed' <"$targets_file" | wc -l
fi

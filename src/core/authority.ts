/**
 * Authority: which callers may pull the switch. A principal in the runbook is an IAM role or user ARN (`*` matches
 * any run of characters). A caller that assumed a role (`arn:aws:sts::ACCT:assumed-role/NAME/SESSION`) matches the
 * role's ARN `arn:aws:iam::ACCT:role/NAME` whatever its path.
 */

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
}

/** The ARNs a caller identity answers to: itself, and for an assumed role, the role (path-free). */
function callerForms(callerArn: string): string[] {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn)
  if (!assumed) return [callerArn]
  const [, partition, account, role] = assumed
  return [callerArn, `arn:${partition}:iam::${account}:role/${role}`]
}

/** Strips an IAM path (`role/path/to/Name` → `role/Name`): STS identities carry no path. */
function withoutPath(arn: string): string {
  return arn.replace(/^(arn:[^:]+:iam::[^:]+:(?:role|user))\/(?:[^*]*\/)?([^/]+)$/, '$1/$2')
}

export function isAuthorized(callerArn: string | null, principals: readonly string[]): boolean {
  if (!callerArn) return false
  const forms = callerForms(callerArn)
  return principals.some((principal) => {
    const patterns = [globToRegExp(principal), globToRegExp(withoutPath(principal))]
    return forms.some((form) => patterns.some((p) => p.test(form)))
  })
}

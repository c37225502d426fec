/** Converts a workload's structured `spec.selector` into the label query string the list and watch calls take. */

export interface StructuredLabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>
}

/** Returns `''` for an empty selector; callers must treat that as "matches everything", i.e. refuse it. */
export function labelSelectorToQuery(selector: StructuredLabelSelector | undefined): string {
  const terms = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`)
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    switch (operator) {
      case 'In':
        terms.push(`${key} in (${values.join(',')})`)
        break
      case 'NotIn':
        terms.push(`${key} notin (${values.join(',')})`)
        break
      case 'Exists':
        terms.push(key)
        break
      case 'DoesNotExist':
        terms.push(`!${key}`)
        break
      default:
        throw new Error(`unknown label selector operator ${operator} for key ${key}`)
    }
  }
  return terms.join(',')
}

/**
 * Label selectors both ways: a workload's structured `spec.selector` into the label query string that targets carry,
 * and that query string back into a predicate over a pod's labels, so one namespace-wide pod cache can tell which
 * pods belong to which workload.
 */

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

export type LabelPredicate = (labels: Readonly<Record<string, string>>) => boolean

/**
 * Compiles a label query (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`; commas mean AND) into a
 * predicate with the API server's semantics: `!=` and `notin` also match a pod without the key. `''` matches every
 * pod. A term it cannot read throws, naming the query: guessing would make verification wait on the wrong pods.
 */
export function labelQueryPredicate(query: string): LabelPredicate {
  const terms = splitTerms(query).map((term) => termPredicate(term, query))
  return (labels) => terms.every((matches) => matches(labels))
}

/** Splits on the commas that are not inside a `( … )` value set. */
function splitTerms(query: string): string[] {
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const char of query) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (char === ',' && depth === 0) {
      terms.push(current)
      current = ''
    } else current += char
  }
  terms.push(current)
  return terms.map((term) => term.trim()).filter((term) => term !== '')
}

const SET_TERM = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$/
const EQUALITY_TERM = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/
const KEY_ONLY_TERM = /^(!?)\s*([^\s!=(),]+)$/

function termPredicate(term: string, query: string): LabelPredicate {
  const set = SET_TERM.exec(term)
  if (set) {
    const [, key, operator, list] = set as unknown as [string, string, 'in' | 'notin', string]
    const values = new Set(list.split(',').map((value) => value.trim()))
    return operator === 'in'
      ? (labels) => Object.hasOwn(labels, key) && values.has(labels[key]!)
      : (labels) => !Object.hasOwn(labels, key) || !values.has(labels[key]!)
  }
  const equality = EQUALITY_TERM.exec(term)
  if (equality) {
    const [, key, operator, value] = equality as unknown as [string, string, string, string]
    return operator === '!='
      ? (labels) => !Object.hasOwn(labels, key) || labels[key] !== value
      : (labels) => Object.hasOwn(labels, key) && labels[key] === value
  }
  const keyOnly = KEY_ONLY_TERM.exec(term)
  if (keyOnly) {
    const [, negated, key] = keyOnly as unknown as [string, string, string]
    return negated === '!' ? (labels) => !Object.hasOwn(labels, key) : (labels) => Object.hasOwn(labels, key)
  }
  throw new Error(`cannot read the label selector term "${term}" in "${query}"`)
}

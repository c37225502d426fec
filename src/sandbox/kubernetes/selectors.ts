/**
 * Label and field selectors as the apiserver parses them (k8s.io/apimachinery `labels.Parse`, `fields.ParseSelector`):
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists), `!a` (does not exist), comma-separated = AND.
 */
import { badRequestError } from './status.js'

export type LabelRequirement =
  | { key: string; operator: 'in' | 'notin'; values: string[] }
  | { key: string; operator: 'exists' | 'doesnotexist' }

export interface FieldRequirement {
  field: string
  operator: '=' | '!='
  value: string
}

/** Splits on commas that are not inside a `( … )` value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const char of text) {
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

const LABEL_KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/
const LABEL_VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key)) throw badRequestError(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`)
  return key
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value)) throw badRequestError(`unable to parse requirement: invalid label value "${value}" in selector "${selector}"`)
  return value
}

function parseTerm(term: string, selector: string): LabelRequirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term)
  if (set) {
    const values = set[3]!.split(',').map((value) => checkValue(value.trim(), selector))
    return { key: checkKey(set[1]!, selector), operator: set[2] as 'in' | 'notin', values }
  }
  const equality = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)
  if (equality) {
    const value = checkValue(equality[3]!, selector)
    return { key: checkKey(equality[1]!, selector), operator: equality[2] === '!=' ? 'notin' : 'in', values: [value] }
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), selector), operator: 'doesnotexist' }
  return { key: checkKey(term, selector), operator: 'exists' }
}

/** Throws a 400 Status for a selector the apiserver would reject. An empty selector matches everything. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  return splitTerms(selector).map((term) => parseTerm(term, selector))
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Readonly<Record<string, string>> = {}): boolean {
  return requirements.every((requirement) => {
    const present = Object.hasOwn(labels, requirement.key)
    switch (requirement.operator) {
      case 'exists':
        return present
      case 'doesnotexist':
        return !present
      case 'in':
        return present && requirement.values.includes(labels[requirement.key]!)
      case 'notin':
        return !present || !requirement.values.includes(labels[requirement.key]!)
    }
  })
}

/** The field selectors every resource supports: `metadata.name` and `metadata.namespace`. */
const SUPPORTED_FIELDS = ['metadata.name', 'metadata.namespace'] as const

export function parseFieldSelector(selector: string): FieldRequirement[] {
  return splitTerms(selector).map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)
    if (!m) throw badRequestError(`invalid selector: '${selector}'; can't understand '${term}'`)
    const field = m[1]!
    if (!(SUPPORTED_FIELDS as readonly string[]).includes(field)) {
      throw badRequestError(`field label not supported: ${field}`)
    }
    return { field, operator: m[2] === '!=' ? '!=' : '=', value: m[3]! }
  })
}

export function matchesFields(requirements: readonly FieldRequirement[], metadata: { name: string; namespace?: string }): boolean {
  return requirements.every(({ field, operator, value }) => {
    const actual = field === 'metadata.name' ? metadata.name : (metadata.namespace ?? '')
    return operator === '=' ? actual === value : actual !== value
  })
}

/** The string form of a matchLabels selector, as the Scale subresource reports it in `status.selector`. */
export function formatMatchLabels(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((key) => `${key}=${matchLabels[key]}`)
    .join(',')
}

import { describe, expect, it } from 'vitest'
import { labelQueryPredicate, labelSelectorToQuery } from '../../../src/primitives/kubernetes/label-selector.js'

describe('labelSelectorToQuery', () => {
  it('joins matchLabels and every matchExpressions operator in label query syntax', () => {
    expect(
      labelSelectorToQuery({
        matchLabels: { app: 'refund', tier: 'agent' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'canary', operator: 'NotIn', values: ['true'] },
          { key: 'owner', operator: 'Exists' },
          { key: 'paused', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=refund,tier=agent,env in (prod,staging),canary notin (true),owner,!paused')
  })

  it('returns an empty query for an empty selector', () => {
    expect(labelSelectorToQuery({})).toBe('')
    expect(labelSelectorToQuery(undefined)).toBe('')
  })
})

describe('labelQueryPredicate', () => {
  const pod = { app: 'refund', tier: 'agent', env: 'prod' }

  it('reads back every term labelSelectorToQuery writes, with the API server semantics', () => {
    expect(labelQueryPredicate('app=refund,tier=agent')(pod)).toBe(true)
    expect(labelQueryPredicate('app=refund,tier=web')(pod)).toBe(false)
    expect(labelQueryPredicate('env in (prod, staging)')(pod)).toBe(true)
    expect(labelQueryPredicate('env in (staging)')(pod)).toBe(false)
    expect(labelQueryPredicate('env notin (staging),canary notin (true)')(pod)).toBe(true)
    expect(labelQueryPredicate('env notin (prod)')(pod)).toBe(false)
    expect(labelQueryPredicate('tier')(pod)).toBe(true)
    expect(labelQueryPredicate('!paused')(pod)).toBe(true)
    expect(labelQueryPredicate('!app')(pod)).toBe(false)
    expect(labelQueryPredicate('app==refund,tier!=web,canary!=true')(pod)).toBe(true)
  })

  it('does not take inherited object properties for labels', () => {
    expect(labelQueryPredicate('constructor')({})).toBe(false)
    expect(labelQueryPredicate('!toString')({})).toBe(true)
  })

  it('matches every pod with the empty query and refuses a term it cannot read', () => {
    expect(labelQueryPredicate('')({})).toBe(true)
    expect(() => labelQueryPredicate('app in prod')).toThrow('cannot read the label selector term "app in prod" in "app in prod"')
  })

  it('round-trips a structured selector through its query', () => {
    const matches = labelQueryPredicate(
      labelSelectorToQuery({ matchLabels: { app: 'refund' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }, { key: 'paused', operator: 'DoesNotExist' }] }),
    )
    expect(matches(pod)).toBe(true)
    expect(matches({ ...pod, paused: 'true' })).toBe(false)
  })
})

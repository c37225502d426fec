import { describe, expect, it } from 'vitest'
import { labelSelectorToQuery } from '../../../src/primitives/kubernetes/label-selector.js'

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

/** The plane's pure pieces: selectors, patches, the store's bounded history, managedFields, the TLS certificate. */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { changesOf, managerOf, recordWrite, replicasManager } from '../../../src/sandbox/kubernetes/managed-fields.js'
import { selfSignedCertificate } from '../../../src/sandbox/kubernetes/tls.js'
import { applyJsonPatch, applyMergePatch, applyPatch } from '../../../src/sandbox/kubernetes/patch.js'
import { formatMatchLabels, matchesLabels, parseFieldSelector, parseLabelSelector, matchesFields } from '../../../src/sandbox/kubernetes/selectors.js'
import { newNamespace } from '../../../src/sandbox/kubernetes/objects.js'
import { ApiError } from '../../../src/sandbox/kubernetes/status.js'
import { ObjectStore } from '../../../src/sandbox/kubernetes/store.js'

describe('label selectors', () => {
  const labels = { app: 'refund', tier: 'agent' }
  it.each([
    ['app=refund', true],
    ['app==refund', true],
    ['app!=refund', false],
    ['app!=search', true],
    ['app in (search, refund)', true],
    ['app notin (search,refund)', false],
    ['tier', true],
    ['!tier', false],
    ['!canary', true],
    ['missing!=x', true],
    ['app=refund,tier in (agent),!canary', true],
    ['', true],
  ])('%s → %s', (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected)
  })

  it('rejects malformed selectors with a 400 Status', () => {
    expect(() => parseLabelSelector('app in refund')).toThrowError(ApiError)
    expect(() => parseLabelSelector('app=re fund')).toThrowError(/invalid label/)
  })

  it('supports metadata.name and metadata.namespace field selectors everywhere, and each resource its own', () => {
    const namespace = newNamespace('agents', new Date(0))
    expect(matchesFields(parseFieldSelector('metadata.name=agents,metadata.namespace!=kube-system', 'namespaces'), namespace, 'namespaces')).toBe(true)
    expect(() => parseFieldSelector('status.phase=Running', 'deployments')).toThrowError(/field label not supported: status.phase/)
    expect(parseFieldSelector('status.phase=Running,spec.nodeName!=', 'pods')).toEqual([
      { field: 'status.phase', operator: '=', value: 'Running' },
      { field: 'spec.nodeName', operator: '!=', value: '' },
    ])
  })

  it('formats matchLabels as the Scale status selector string', () => {
    expect(formatMatchLabels({ tier: 'agent', app: 'refund' })).toBe('app=refund,tier=agent')
  })
})

describe('patches', () => {
  it('merge patch merges objects, deletes on null and replaces arrays', () => {
    expect(applyMergePatch({ a: { b: 1, c: 2 }, d: [1, 2] }, { a: { b: null, e: 3 }, d: [3] })).toEqual({ a: { c: 2, e: 3 }, d: [3] })
  })

  it('JSON patch applies add, remove, replace, move, copy and test, without touching the input', () => {
    const doc = { metadata: { annotations: { 'a/b': '1' } }, list: [1, 2] }
    const result = applyJsonPatch(doc, [
      { op: 'add', path: '/metadata/annotations/killswitch.dev~1prior', value: '3' },
      { op: 'remove', path: '/metadata/annotations/a~1b' },
      { op: 'replace', path: '/list/0', value: 9 },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'copy', from: '/list/1', path: '/copied' },
      { op: 'move', from: '/copied', path: '/moved' },
      { op: 'test', path: '/moved', value: 2 },
    ])
    expect(result).toEqual({ metadata: { annotations: { 'killswitch.dev/prior': '3' } }, list: [9, 2, 3], moved: 2 })
    expect(doc).toEqual({ metadata: { annotations: { 'a/b': '1' } }, list: [1, 2] })
  })

  it('JSON patch failures are 422, malformed bodies 400, unknown media types 415', () => {
    const code = (fn: () => unknown) => {
      try {
        fn()
      } catch (error) {
        return (error as ApiError).code
      }
      return 200
    }
    expect(code(() => applyJsonPatch({ spec: {} }, [{ op: 'replace', path: '/spec/replicas', value: 0 }]))).toBe(422)
    expect(code(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]))).toBe(422)
    expect(code(() => applyPatch({}, 'application/merge-patch+json', Buffer.from('{')))).toBe(400)
    expect(code(() => applyPatch({}, 'application/apply-patch+yaml', Buffer.from('spec: {}')))).toBe(415)
    expect(applyPatch({ a: 1 }, 'application/strategic-merge-patch+json; charset=utf-8', Buffer.from('{"b":2}'))).toEqual({ a: 1, b: 2 })
  })
})

describe('object store', () => {
  it('stamps each write with the next revision and reports compacted history as gone', () => {
    const store = new ObjectStore(2)
    const seen: string[] = []
    store.subscribe((event) => seen.push(`${event.type} ${event.object.metadata.name} ${event.revision}`))
    for (const name of ['a', 'b', 'c']) store.put('namespaces', newNamespace(name, new Date(0)))
    store.delete('namespaces', undefined, 'a')
    expect(seen).toEqual(['ADDED a 1', 'ADDED b 2', 'ADDED c 3', 'DELETED a 4'])
    expect(store.get('namespaces', undefined, 'b')?.metadata.resourceVersion).toBe('2')
    expect(store.eventsAfter(2)?.map((e) => e.revision)).toEqual([3, 4])
    expect(store.eventsAfter(1)).toBeUndefined()
  })

  it('hands out copies: mutating a read object does not change the store', () => {
    const store = new ObjectStore()
    store.put('namespaces', newNamespace('agents', new Date(0)))
    store.get('namespaces', undefined, 'agents')!.metadata.name = 'changed'
    expect(store.list('namespaces').map((n) => n.metadata.name)).toEqual(['agents'])
  })
})

describe('managedFields', () => {
  const deployment = (replicas: number, annotations?: Record<string, string>) => ({
    apiVersion: 'apps/v1',
    metadata: { labels: { app: 'refund' }, ...(annotations ? { annotations } : {}) },
    spec: { replicas, selector: { matchLabels: { app: 'refund' } }, template: { spec: { containers: [{ name: 'agent', image: 'a' }] } } },
  })
  const at = '2026-01-01T00:00:00Z'

  it('a create owns every field it sets; labels, annotations and list items as wholes (`.`), the selector atomically', () => {
    const entries = recordWrite(undefined, changesOf(undefined, deployment(2), 'object'), { manager: 'kubectl-client-side-apply', operation: 'Update' }, 'apps/v1', at)
    expect(entries).toEqual([
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: at,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': { 'f:replicas': {}, 'f:selector': {}, 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"agent"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } } },
        },
      },
    ])
  })

  it('a write takes the fields it changes from every other manager; an entry left with nothing goes', () => {
    const created = recordWrite(undefined, changesOf(undefined, deployment(2), 'object'), { manager: 'creator', operation: 'Update' }, 'apps/v1', at)
    const scaled = recordWrite(created, changesOf(deployment(2), deployment(0), 'object'), { manager: 'kubectl', operation: 'Update', subresource: 'scale' }, 'apps/v1', at)
    expect(replicasManager(scaled)).toBe('kubectl')
    expect(scaled!.filter((e) => e.fieldsV1['f:spec']?.['f:replicas'])).toHaveLength(1)
    expect(scaled![1]).toMatchObject({ manager: 'kubectl', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } })
    const back = recordWrite(scaled, changesOf(deployment(0), deployment(2), 'object'), { manager: 'keda-operator', operation: 'Update', subresource: 'scale' }, 'apps/v1', at)
    expect(back!.map((e) => e.manager)).toEqual(['creator', 'keda-operator'])
    const annotated = recordWrite(back, changesOf(deployment(2), deployment(2, { note: 'x' }), 'object'), { manager: 'kubectl-annotate', operation: 'Update' }, 'apps/v1', at)
    expect(annotated!.at(-1)!.fieldsV1).toEqual({ 'f:metadata': { 'f:annotations': { '.': {}, 'f:note': {} } } })
    expect(recordWrite(annotated, changesOf(deployment(2, { note: 'x' }), deployment(2, { note: 'x' }), 'object'), { manager: 'other', operation: 'Update' }, 'apps/v1', at)).toEqual(annotated)
  })

  it("names the manager by fieldManager, else by the User-Agent's product name", () => {
    expect(managerOf('killswitch', 'kubectl/v1.32.4 (linux/amd64)')).toBe('killswitch')
    expect(managerOf(null, 'kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07')).toBe('kubectl')
    expect(managerOf(null, undefined)).toBe('')
    expect(managerOf(null, 'x'.repeat(200))).toHaveLength(128)
  })
})

describe('the TLS endpoint certificate', () => {
  it('is a self-signed X.509 certificate for 127.0.0.1 that its key signed', () => {
    const { cert, key } = selfSignedCertificate(new Date('2026-01-01T00:00:00Z'))
    const certificate = new X509Certificate(cert)
    expect(certificate.subject).toBe('CN=killswitch-sandbox')
    expect(certificate.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost')
    expect(certificate.checkPrivateKey(createPrivateKey(key))).toBe(true)
    expect(certificate.verify(certificate.publicKey)).toBe(true)
    expect(() => createSecureContext({ cert, key })).not.toThrow()
  })
})

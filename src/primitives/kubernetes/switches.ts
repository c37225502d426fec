/**
 * The objects besides workloads that a scale-to-zero step switches off, each by one merge patch of one field and
 * back: a CronJob (`spec.suspend`), and the reconcilers that would scale a halted workload back up — a KEDA
 * ScaledObject (the `autoscaling.keda.sh/paused-replicas` annotation), an Argo CD Application (its automated sync)
 * and a Flux Kustomization or HelmRelease (`spec.suspend`). Each kind says how its state is read from the object,
 * when it counts as switched off, and the patches that switch it off and put the snapshot back.
 *
 * Invariants: a state always carries `object` (its kind), so that one primitive tells its targets' states apart;
 * the restore patch writes back exactly the snapshot's value, and removes the field when the snapshot had none.
 * Sources per kind: docs/primitives/kubernetes.md#reconcilers.
 */
import type { JsonValue, TargetState } from '../../core/primitive.js'
import type { ApiResource, KubeObject } from './client.js'

export type SwitchKind = 'CronJob' | 'ScaledObject' | 'Application' | 'Kustomization' | 'HelmRelease'

export interface Switch {
  kind: SwitchKind
  resource: ApiResource
  /** The target id's type part, e.g. `scaledobject.keda.sh`. */
  idType: string
  stateOf(object: KubeObject): TargetState
  isHalted(state: TargetState): boolean
  haltPatch: unknown
  restorePatch(snapshot: TargetState): unknown
  describe(state: TargetState): string
}

/** KEDA: with this annotation the operator scales the target to the given count and stops autoscaling it. */
export const KEDA_PAUSED_REPLICAS = 'autoscaling.keda.sh/paused-replicas'

const suspendSwitch = (kind: SwitchKind, resource: ApiResource, idType: string, running: string): Switch => ({
  kind,
  resource,
  idType,
  stateOf: (object) => ({ object: kind, suspend: typeof object.spec?.suspend === 'boolean' ? object.spec.suspend : null }),
  isHalted: (state) => state.suspend === true,
  haltPatch: { spec: { suspend: true } },
  restorePatch: (snapshot) => ({ spec: { suspend: snapshot.suspend ?? null } }),
  describe: (state) => (state.suspend === true ? 'suspended' : running),
})

export const SWITCHES: Record<SwitchKind, Switch> = {
  CronJob: suspendSwitch('CronJob', { group: 'batch', version: 'v1', plural: 'cronjobs' }, 'cronjob', 'scheduling'),
  Kustomization: suspendSwitch(
    'Kustomization',
    { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
    'kustomization.kustomize.toolkit.fluxcd.io',
    'reconciling',
  ),
  HelmRelease: suspendSwitch(
    'HelmRelease',
    { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
    'helmrelease.helm.toolkit.fluxcd.io',
    'reconciling',
  ),
  ScaledObject: {
    kind: 'ScaledObject',
    resource: { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' },
    idType: 'scaledobject.keda.sh',
    stateOf: (object) => ({ object: 'ScaledObject', pausedReplicas: object.metadata?.annotations?.[KEDA_PAUSED_REPLICAS] ?? null }),
    isHalted: (state) => state.pausedReplicas === '0',
    haltPatch: { metadata: { annotations: { [KEDA_PAUSED_REPLICAS]: '0' } } },
    restorePatch: (snapshot) => ({ metadata: { annotations: { [KEDA_PAUSED_REPLICAS]: snapshot.pausedReplicas ?? null } } }),
    describe: (state) => (state.pausedReplicas === null ? 'autoscaling' : `paused at ${String(state.pausedReplicas)} replicas`),
  },
  Application: {
    kind: 'Application',
    resource: { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' },
    idType: 'application.argoproj.io',
    // The whole `automated` block is the snapshot: removing it stops automated sync and self-heal on every Argo CD
    // version (the newer `automated.enabled: false` is pruned as an unknown field by older CRDs, silently).
    stateOf: (object) => ({ object: 'Application', automated: automatedOf(object) }),
    isHalted: (state) => !syncsAutomatically(state.automated ?? null),
    haltPatch: { spec: { syncPolicy: { automated: null } } },
    restorePatch: (snapshot) => ({ spec: { syncPolicy: { automated: snapshot.automated ?? null } } }),
    describe: (state) => {
      const automated = state.automated
      if (!syncsAutomatically(automated ?? null)) return 'automated sync off'
      return (automated as { selfHeal?: boolean }).selfHeal === true ? 'automated sync with self-heal' : 'automated sync'
    },
  },
}

function automatedOf(object: KubeObject): JsonValue {
  const policy = object.spec?.syncPolicy as { automated?: JsonValue } | undefined
  return policy?.automated ?? null
}

/** Argo CD: `automated` present and not `enabled: false` (an absent or null `enabled` counts as on). */
function syncsAutomatically(automated: JsonValue): boolean {
  return automated !== null && typeof automated === 'object' && !Array.isArray(automated) && automated.enabled !== false
}

export function switchOf(state: TargetState): Switch | undefined {
  return typeof state.object === 'string' ? SWITCHES[state.object as SwitchKind] : undefined
}

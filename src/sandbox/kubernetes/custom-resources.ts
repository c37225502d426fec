/**
 * The reconcilers' objects as their controllers leave them: KEDA ScaledObjects (keda.sh/v1alpha1, with the HPA
 * `keda-hpa-<name>` KEDA creates and owns), HorizontalPodAutoscalers (autoscaling/v2), Argo CD Applications
 * (argoproj.io/v1alpha1) and Flux Kustomizations (kustomize.toolkit.fluxcd.io/v1) and HelmReleases
 * (helm.toolkit.fluxcd.io/v2). Shapes follow the CRDs' Go types: KEDA `apis/keda/v1alpha1/scaledobject_types.go`,
 * Argo CD `manifests/crds/application-crd.yaml`, Flux `api/v1/kustomization_types.go`, k8s `autoscaling/v2` types.
 */
import { controllerReference, newMeta, nonEmpty, timestamp, type GenericObject } from './objects.js'
import type { Json } from './patch.js'
import type { WorkloadResource } from './resources.js'
import type { ArgoApplicationSeed, HelmReleaseSeed, HpaSeed, KustomizationSeed, ScaledObjectSeed } from './seed.js'

type JsonObject = { [key: string]: Json }

/** `deployment/NAME` → the reference KEDA and the HPA controller use. */
export function scaleTargetRef(target: string): { apiVersion: string; kind: string; name: string } {
  const [kind, name] = target.split('/') as [string, string]
  return { apiVersion: 'apps/v1', kind: kind === 'deployment' ? 'Deployment' : 'StatefulSet', name }
}

/** `deployment/NAME` → the workload's resource and name. */
export function workloadOf(target: string): { resource: WorkloadResource; name: string } {
  const [kind, name] = target.split('/') as [string, string]
  return { resource: kind === 'deployment' ? 'deployments' : 'statefulsets', name }
}

/** The sandbox's git: a fixed revision for every GitOps object. */
export const GIT_REVISION = '3f2a9c1d8e7b6a5f4c3d2e1f0a9b8c7d6e5f4a3b'

export function newScaledObject(namespace: string, seed: ScaledObjectSeed, originalReplicaCount: number, now: Date): GenericObject {
  const target = scaleTargetRef(seed.target)
  const at = timestamp(now)
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: newMeta(seed.name, namespace, now, {
      generation: 1,
      labels: { 'scaledobject.keda.sh/name': seed.name },
      ...nonEmpty('annotations', seed.annotations),
      finalizers: ['finalizer.keda.sh'],
    }),
    spec: {
      scaleTargetRef: target,
      minReplicaCount: seed.minReplicaCount,
      maxReplicaCount: seed.maxReplicaCount,
      pollingInterval: 30,
      cooldownPeriod: 300,
      triggers: [{ type: 'metrics-api', metadata: { url: 'http://queue.sandbox.local/depth', valueLocation: 'depth', targetValue: '1' } }],
    },
    status: {
      scaleTargetKind: `apps/v1.${target.kind}`,
      scaleTargetGVKR: { group: 'apps', kind: target.kind, resource: `${target.kind.toLowerCase()}s`, version: 'v1' },
      originalReplicaCount,
      hpaName: `keda-hpa-${seed.name}`,
      triggersTypes: 'metrics-api',
      externalMetricNames: ['s0-metric-api-depth'],
      conditions: [
        { type: 'Ready', status: 'True', reason: 'ScaledObjectReady', message: 'ScaledObject is defined correctly and is ready for scaling' },
        seed.active
          ? { type: 'Active', status: 'True', reason: 'ScalerActive', message: 'Scaling is performed because triggers are active' }
          : { type: 'Active', status: 'False', reason: 'ScalerNotActive', message: 'Scaling is not performed because triggers are not active' },
        { type: 'Fallback', status: 'False', reason: 'NoFallbackFound', message: 'No fallbacks are active on this scaled object' },
        { type: 'Paused', status: 'False', reason: 'ScaledObjectUnpaused', message: 'pause annotation removed for ScaledObject' },
      ],
      ...(seed.active ? { lastActiveTime: at } : {}),
    },
  }
}

interface HpaOptions {
  namespace: string
  name: string
  target: { apiVersion: string; kind: string; name: string }
  minReplicas: number
  maxReplicas: number
  metrics: Json[]
  labels?: Record<string, string>
  owner?: GenericObject
}

export function newHorizontalPodAutoscaler(options: HpaOptions, now: Date): GenericObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: newMeta(options.name, options.namespace, now, {
      ...nonEmpty('labels', options.labels ?? {}),
      ...(options.owner ? { ownerReferences: [controllerReference(options.owner)] } : {}),
    }),
    spec: { scaleTargetRef: options.target, minReplicas: options.minReplicas, maxReplicas: options.maxReplicas, metrics: options.metrics },
    status: { currentReplicas: 0, desiredReplicas: 0 },
  }
}

export function newHpa(namespace: string, seed: HpaSeed, now: Date): GenericObject {
  return newHorizontalPodAutoscaler(
    {
      namespace,
      name: seed.name,
      target: scaleTargetRef(seed.target),
      minReplicas: seed.minReplicas,
      maxReplicas: seed.maxReplicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
    },
    now,
  )
}

/** The HPA KEDA creates for a ScaledObject: `minReplicas` at least 1 (KEDA itself handles 0), owned by the ScaledObject. */
export function newKedaHpa(scaledObject: GenericObject, now: Date): GenericObject {
  const spec = scaledObject.spec
  const min = typeof spec.minReplicaCount === 'number' && spec.minReplicaCount > 0 ? spec.minReplicaCount : 1
  const max = typeof spec.maxReplicaCount === 'number' ? spec.maxReplicaCount : 100
  const name = scaledObject.metadata.name
  return newHorizontalPodAutoscaler(
    {
      namespace: scaledObject.metadata.namespace ?? '',
      name: `keda-hpa-${name}`,
      target: spec.scaleTargetRef as { apiVersion: string; kind: string; name: string },
      minReplicas: min,
      maxReplicas: max,
      metrics: [{ type: 'External', external: { metric: { name: 's0-metric-api-depth', selector: { matchLabels: { 'scaledobject.keda.sh/name': name } } }, target: { type: 'AverageValue', averageValue: '1' } } }],
      labels: { 'app.kubernetes.io/managed-by': 'keda-operator', 'app.kubernetes.io/name': `keda-hpa-${name}`, 'app.kubernetes.io/part-of': name, 'app.kubernetes.io/version': '2.17.0', 'scaledobject.keda.sh/name': name },
      owner: scaledObject,
    },
    now,
  )
}

export function newApplication(seed: ArgoApplicationSeed, now: Date): GenericObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: newMeta(seed.name, seed.namespace, now, { generation: 1, finalizers: ['resources-finalizer.argocd.argoproj.io'] }),
    spec: {
      project: 'default',
      source: { repoURL: 'https://git.sandbox.local/platform/agents.git', path: `apps/${seed.name}`, targetRevision: 'HEAD' },
      destination: { server: 'https://kubernetes.default.svc', namespace: seed.destinationNamespace },
      syncPolicy: seed.automated === null ? {} : { automated: { ...seed.automated } },
    },
    status: {
      sync: { status: 'Synced', revision: GIT_REVISION, comparedTo: { source: { repoURL: 'https://git.sandbox.local/platform/agents.git', path: `apps/${seed.name}`, targetRevision: 'HEAD' }, destination: { server: 'https://kubernetes.default.svc', namespace: seed.destinationNamespace } } },
      health: { status: 'Healthy', lastTransitionTime: timestamp(now) },
      reconciledAt: timestamp(now),
      sourceType: 'Directory',
    },
  }
}

function readyCondition(now: Date, reason: string, message: string, generation = 1): JsonObject {
  return { type: 'Ready', status: 'True', reason, message, lastTransitionTime: timestamp(now), observedGeneration: generation }
}

export function newKustomization(seed: KustomizationSeed, now: Date): GenericObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: newMeta(seed.name, seed.namespace, now, { generation: 1, finalizers: ['finalizers.fluxcd.io'] }),
    spec: {
      interval: '10m',
      path: `./apps/${seed.name}`,
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      ...(seed.suspend ? { suspend: true } : {}),
    },
    status: {
      observedGeneration: 1,
      conditions: [readyCondition(now, 'ReconciliationSucceeded', `Applied revision: main@sha1:${GIT_REVISION}`)],
      lastAppliedRevision: `main@sha1:${GIT_REVISION}`,
      lastAttemptedRevision: `main@sha1:${GIT_REVISION}`,
    },
  }
}

export function newHelmRelease(seed: HelmReleaseSeed, now: Date): GenericObject {
  return {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: newMeta(seed.name, seed.namespace, now, { generation: 1, finalizers: ['finalizers.fluxcd.io'] }),
    spec: {
      interval: '10m',
      chart: { spec: { chart: seed.name, version: '*', sourceRef: { kind: 'HelmRepository', name: 'sandbox-charts', namespace: 'flux-system' } } },
      driftDetection: { mode: seed.driftDetection },
      ...(seed.suspend ? { suspend: true } : {}),
    },
    status: {
      observedGeneration: 1,
      conditions: [readyCondition(now, 'InstallSucceeded', `Helm install succeeded for release ${seed.namespace}/${seed.name}.v1 with chart ${seed.name}@1.0.0`)],
      lastAttemptedRevision: '1.0.0',
      lastAttemptedGeneration: 1,
    },
  }
}

// Offline validation of rendered manifests against the Kubernetes API schemas, through
// kubernetes-models (the OpenAPI schemas of Kubernetes' own types, compiled to validators).
// An object of a kind not listed here fails: a new kind in k8s/ must be added to be checked.
import assert from 'node:assert/strict';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

interface Validating {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Validating> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  // The alert rules (Prometheus Operator CRD, schema from its own package).
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** Throws, naming the object and the schema violation, unless obj is a valid object of its kind. */
export function validateObject(obj: Record<string, unknown>): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const Model = MODELS[key];
  const name = `${key} ${(obj.metadata as { name?: string } | undefined)?.name}`;
  assert.ok(Model, `${name}: no schema registered for this kind in test/k8s/k8s-schema.ts`);
  // kustomize wraps long base64 values at 70 columns; the API server's decoder (Go's
  // encoding/base64 via encoding/json) skips the newlines, the schema's "byte" format does not.
  if (key === 'v1/Secret' && obj.data) obj = { ...obj, data: Object.fromEntries(Object.entries(obj.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')])) };
  try {
    new Model(obj as never).validate();
  } catch (err) {
    assert.fail(`${name}: ${(err as Error).message}`);
  }
}

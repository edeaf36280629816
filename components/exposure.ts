import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ExposureSpec } from "../lib/spec";

/** The CRD a ServiceMonitor needs (installed by the Prometheus Operator). */
export const SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com";

export interface ExposureArgs {
  readonly namespace: pulumi.Input<string>;
  readonly labels: Readonly<Record<string, string>>;
  /** The API pods' selector. */
  readonly selector: Readonly<Record<string, string>>;
  readonly settings: ExposureSpec;
}

export interface ExposureResources {
  readonly service: k8s.core.v1.Service;
  readonly ingress?: k8s.networking.v1.Ingress;
  readonly serviceMonitor?: k8s.apiextensions.CustomResource;
  /** http://<service>.<namespace>.svc.cluster.local[:port] */
  readonly inClusterUrl: pulumi.Output<string>;
}

/**
 * Exposure of the API: its Service (the chart's service.type/port, target port "http"), the
 * Ingress and the ServiceMonitor when enabled. Children of `parent`, named `${name}-svc`,
 * `${name}-ingress`, `${name}-metrics`.
 */
export function createExposure(name: string, args: ExposureArgs, parent: pulumi.Resource): ExposureResources {
  const { service: svc, ingress, serviceMonitor } = args.settings;
  const metadata = { namespace: args.namespace, labels: args.labels };
  const service = new k8s.core.v1.Service(
    `${name}-svc`,
    {
      metadata: { ...metadata, ...(Object.keys(svc.annotations).length > 0 ? { annotations: svc.annotations } : {}) },
      spec: {
        type: svc.type,
        selector: args.selector,
        ports: [{ name: "http", port: svc.port, targetPort: "http", protocol: "TCP" }],
      },
    },
    { parent },
  );
  const serviceName = service.metadata.name;

  const ingressResource = ingress.enabled
    ? new k8s.networking.v1.Ingress(
        `${name}-ingress`,
        {
          metadata: { ...metadata, annotations: ingress.annotations },
          spec: {
            ...(ingress.className ? { ingressClassName: ingress.className } : {}),
            // Without a secretName the controller serves its default certificate for these hosts.
            tls: ingress.tls.map((t) => ({
              ...(t.secretName ? { secretName: t.secretName } : {}),
              hosts: [...t.hosts],
            })),
            rules: ingress.hosts.map((h) => ({
              host: h.host,
              http: {
                paths: h.paths.map((p) => ({
                  path: p.path,
                  pathType: p.pathType,
                  backend: { service: { name: serviceName, port: { name: "http" } } },
                })),
              },
            })),
          },
        },
        { parent },
      )
    : undefined;

  let monitor: k8s.apiextensions.CustomResource | undefined;
  if (serviceMonitor.enabled) {
    // Read the CRD first: when the Prometheus Operator is not installed, preview fails on this
    // lookup, named after the CRD, instead of `up` failing later with "no matches for kind".
    const crd = k8s.apiextensions.v1.CustomResourceDefinition.get(
      `${name}-metrics-crd-${SERVICE_MONITOR_CRD}`,
      SERVICE_MONITOR_CRD,
      { parent },
    );
    monitor = new k8s.apiextensions.CustomResource(
      `${name}-metrics`,
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { ...metadata, labels: { ...args.labels, ...serviceMonitor.additionalLabels } },
        spec: {
          ...(serviceMonitor.jobLabel ? { jobLabel: serviceMonitor.jobLabel } : {}),
          ...(serviceMonitor.targetLabels.length > 0 ? { targetLabels: serviceMonitor.targetLabels } : {}),
          selector: { matchLabels: args.selector },
          namespaceSelector: { matchNames: [args.namespace] },
          endpoints: [
            {
              port: "http",
              path: serviceMonitor.path,
              ...(serviceMonitor.interval ? { interval: serviceMonitor.interval } : {}),
              ...(serviceMonitor.scrapeTimeout ? { scrapeTimeout: serviceMonitor.scrapeTimeout } : {}),
            },
          ],
        },
      },
      { parent, dependsOn: [crd, service] },
    );
  }

  const port = svc.port === 80 ? "" : `:${svc.port}`;
  return {
    service,
    ingress: ingressResource,
    serviceMonitor: monitor,
    inClusterUrl: pulumi.interpolate`http://${serviceName}.${args.namespace}.svc.cluster.local${port}`,
  };
}

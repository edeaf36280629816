import { z } from "zod";
import type { ExposureSpec } from "../spec";
import type { ConfigSource } from "./source";
import {
  annotations,
  GO_MAX_DURATION_NS,
  isHostName,
  labels,
  port,
  prometheusDurationMs,
  readKey,
  resourceName,
} from "./read";

/**
 * How the API is reached: its Service, an optional Ingress and an optional ServiceMonitor.
 * Keys and defaults follow the upstream chart's values.yaml (chart v0.6.0).
 */

const duration = z
  .string()
  .refine(
    (t) => prometheusDurationMs(t) !== undefined,
    "expected a Prometheus duration such as 30s or 1m (units y, w, d, h, m, s, ms, each once, in that order)",
  )
  .refine(
    (t) => (prometheusDurationMs(t) ?? 0n) * 1_000_000n <= GO_MAX_DURATION_NS,
    "is longer than Prometheus can hold (292 years); use a duration such as 30s or 1m",
  );

export const serviceSchema = z
  .strictObject({
    type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP"),
    port: port.default(80),
    annotations,
  })
  .default({ type: "ClusterIP", port: 80, annotations: {} });

const host = z
  .string()
  .refine(
    isHostName,
    "is not a valid host name (lower-case labels of 1-63 letters, digits and inner '-', joined by single dots, " +
      "at most 253 characters, optional leading *.; not an IP address)",
  );

export const ingressSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    className: z.string().default(""),
    annotations,
    hosts: z
      .array(
        z.strictObject({
          host,
          paths: z
            .array(
              z.strictObject({
                path: z.string().startsWith("/", "must start with /").default("/"),
                pathType: z.enum(["Exact", "Prefix", "ImplementationSpecific"]).default("Prefix"),
              }),
            )
            .min(1, "give at least one path")
            .default([{ path: "/", pathType: "Prefix" }]),
        }),
      )
      .default([]),
    /** Without secretName, the ingress controller's default certificate (as Kubernetes and the chart allow). */
    tls: z.array(z.strictObject({ secretName: resourceName.optional(), hosts: z.array(host).min(1) })).default([]),
  })
  .default({ enabled: false, className: "", annotations: {}, hosts: [], tls: [] })
  .refine((i) => !i.enabled || i.hosts.length > 0, {
    message: "enabled needs at least one entry in hosts (e.g. {host: api.example.org, paths: [{path: /}]})",
    path: ["hosts"],
  })
  .refine((i) => i.tls.every((t) => t.hosts.every((h) => i.hosts.some((x) => x.host === h))), {
    message: "every tls host must also be in hosts",
    path: ["tls"],
  });

export const serviceMonitorSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    additionalLabels: labels,
    jobLabel: z.string().default(""),
    interval: duration.optional(),
    scrapeTimeout: duration.optional(),
    targetLabels: z.array(z.string()).default([]),
    path: z.string().startsWith("/").default("/metrics"),
  })
  .default({ enabled: false, additionalLabels: {}, jobLabel: "", targetLabels: [], path: "/metrics" })
  // Prometheus refuses such a scrape config, so the ServiceMonitor would be applied and never scraped.
  .refine(
    (m) =>
      m.interval === undefined ||
      m.scrapeTimeout === undefined ||
      prometheusDurationMs(m.scrapeTimeout)! <= prometheusDurationMs(m.interval)!,
    { message: "scrapeTimeout must not be longer than interval (Prometheus refuses it)", path: ["scrapeTimeout"] },
  );

export function readExposure(config: ConfigSource): ExposureSpec {
  return {
    service: readKey(config, "service", serviceSchema),
    ingress: readKey(config, "ingress", ingressSchema),
    serviceMonitor: readKey(config, "serviceMonitor", serviceMonitorSchema),
  };
}

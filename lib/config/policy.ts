import { z } from "zod";
import type { NetworkPolicySpec } from "../spec";
import { ConfigError, type ConfigSource } from "./source";
import { isCidr, kubeObject, port, readKey } from "./read";

/**
 * Opt-in NetworkPolicies: the API accepts traffic on its port only from the listed peers
 * (the ingress controller, the metrics scraper) and talks only to the database, DNS and
 * HTTPS webhooks; the migration Job gets its own policy (database and DNS only).
 */

const cidr = z
  .string()
  .refine(
    isCidr,
    "expected a CIDR such as 10.0.0.0/16 or 2001:db8::/32 (address octets up to 255, prefix up to 32 or 128)",
  );

/** A NetworkPolicy peer: pods selected by namespace and/or pod labels. */
const peer = z
  .strictObject({ namespaceSelector: kubeObject.optional(), podSelector: kubeObject.optional() })
  .refine((p) => p.namespaceSelector !== undefined || p.podSelector !== undefined, {
    message: "give namespaceSelector and/or podSelector",
  });

export const networkPolicySchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Who may reach the API's port (e.g. the ingress controller's namespace, Prometheus). */
    ingressFrom: z.array(peer).default([]),
    database: z
      .strictObject({
        cidrs: z.array(cidr).default([]),
        /** For a database running in the cluster. */
        peers: z.array(peer).default([]),
        port: port.default(5432),
      })
      .default({ cidrs: [], peers: [], port: 5432 }),
    /** Allow HTTPS (443) to public addresses, for the webhooks the API sends. */
    webhooks: z.boolean().default(true),
    /** More ranges webhooks must not reach (e.g. 100.64.0.0/10), on top of NON_PUBLIC_CIDRS. */
    webhookExceptCidrs: z
      .array(
        cidr.refine((c) => !c.endsWith("/0"), "a /0 range blocks every webhook: set networkPolicy.webhooks to false"),
      )
      .default([]),
  })
  .default({
    enabled: false,
    ingressFrom: [],
    database: { cidrs: [], peers: [], port: 5432 },
    webhooks: true,
    webhookExceptCidrs: [],
  });

export function readPolicy(config: ConfigSource): NetworkPolicySpec {
  const policy = readKey(config, "networkPolicy", networkPolicySchema);
  if (policy.enabled && policy.database.cidrs.length === 0 && policy.database.peers.length === 0) {
    throw new ConfigError(
      "networkPolicy",
      "enabled without a database destination: the API and the migration Job could not reach PostgreSQL; " +
        "set networkPolicy.database.cidrs (e.g. [10.1.2.3/32]) or networkPolicy.database.peers",
    );
  }
  return policy;
}

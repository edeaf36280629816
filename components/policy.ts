import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { NON_PUBLIC_CIDRS, NON_PUBLIC_CIDRS_V6, type NetworkPolicySpec } from "../lib/spec";

export interface PolicyArgs {
  readonly namespace: pulumi.Input<string>;
  readonly labels: Readonly<Record<string, string>>;
  /** The API pods' selector. */
  readonly apiSelector: Readonly<Record<string, string>>;
  /** The migration Job pods' selector. */
  readonly migrationSelector: Readonly<Record<string, string>>;
  /** The API container's port. */
  readonly apiPort: number;
  readonly settings: NetworkPolicySpec;
}

type Rule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;

/** DNS to any resolver (cluster DNS or node-local cache), UDP and TCP. */
export const DNS_EGRESS: Rule = {
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};

export function databaseEgress(db: NetworkPolicySpec["database"]): Rule {
  return {
    to: [...db.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ...db.peers],
    ports: [{ protocol: "TCP", port: db.port }],
  };
}

/**
 * HTTPS to public addresses only: webhook URLs are chosen by API clients. `extraExcept`
 * (webhookExceptCidrs) adds ranges to the non-public ones, which are always excluded.
 */
export function webhookEgress(extraExcept: readonly string[]): Rule[] {
  const except = [...new Set([...NON_PUBLIC_CIDRS, ...NON_PUBLIC_CIDRS_V6, ...extraExcept])];
  const v4 = except.filter((c) => !c.includes(":"));
  const v6 = except.filter((c) => c.includes(":"));
  return [
    {
      to: [{ ipBlock: { cidr: "0.0.0.0/0", except: v4 } }, { ipBlock: { cidr: "::/0", except: v6 } }],
      ports: [{ protocol: "TCP", port: 443 }],
    },
  ];
}

/**
 * Opt-in NetworkPolicies. The API: ingress to its port only from the configured peers,
 * egress to the database, DNS and (optionally) HTTPS webhooks. The migration Job: no
 * ingress, egress to the database and DNS only.
 */
export function createNetworkPolicies(
  name: string,
  args: PolicyArgs,
  parent: pulumi.Resource,
): k8s.networking.v1.NetworkPolicy[] {
  const s = args.settings;
  if (!s.enabled) return [];
  const metadata = { namespace: args.namespace, labels: args.labels };
  const api = new k8s.networking.v1.NetworkPolicy(
    `${name}-api-netpol`,
    {
      metadata,
      spec: {
        podSelector: { matchLabels: args.apiSelector },
        policyTypes: ["Ingress", "Egress"],
        ingress:
          s.ingressFrom.length > 0
            ? [{ from: [...s.ingressFrom], ports: [{ protocol: "TCP", port: args.apiPort }] }]
            : [],
        egress: [databaseEgress(s.database), DNS_EGRESS, ...(s.webhooks ? webhookEgress(s.webhookExceptCidrs) : [])],
      },
    },
    { parent },
  );
  const migration = new k8s.networking.v1.NetworkPolicy(
    `${name}-migrate-netpol`,
    {
      metadata,
      spec: {
        podSelector: { matchLabels: args.migrationSelector },
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: [databaseEgress(s.database), DNS_EGRESS],
      },
    },
    { parent },
  );
  return [api, migration];
}

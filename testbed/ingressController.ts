import type { KubeClient, KubeObject } from "./kube";

/**
 * Stands in for an ingress controller in `namespace`: publishes a load-balancer address on
 * each Ingress, as controllers do (the Kubernetes provider waits for it). Returns a stop.
 */
export function standInIngressController(kube: KubeClient, namespace: string): () => void {
  const timer = setInterval(() => {
    void (async () => {
      const ingresses = await kube.list<KubeObject & { status?: { loadBalancer?: { ingress?: unknown[] } } }>(
        `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses`,
      );
      for (const ing of ingresses.items) {
        if (ing.status?.loadBalancer?.ingress?.length) continue;
        await kube.patch(
          `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses/${ing.metadata.name}/status`,
          { status: { loadBalancer: { ingress: [{ ip: "127.0.0.1" }] } } },
          "merge",
        );
      }
    })().catch(() => undefined);
  }, 500);
  return () => clearInterval(timer);
}

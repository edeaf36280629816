import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiArgs, DevelopersItaliaApi } from "../../components/developersItaliaApi";
import { imageRef } from "../../lib/config/image";
import { readSpec } from "../../lib/config/readSpec";
import { planDeploy } from "../../lib/deploy/plan";
import { loadMigrationDir } from "../../lib/migration/dir";
import { projectRoot } from "../../runtime/buildStamp";
import { userError } from "../../runtime/userError";
import { lastApplied, stackConfig } from "../../stack/config";
import { stackOutputs } from "../../stack/outputs";

/**
 * index.ts (run by TestStack in place of it, compiled) plus one resource that depends on the
 * API's Deployment, as a step after the rollout would (issue 25's contract Job): a ConfigMap
 * (autonamed, labelled e2e.developers.italia.it/after-rollout) whose `image` is the release's,
 * replaced for each release. Whether `up` replaces it while a rollout is failed is what
 * test/e2e/rollout.test.ts measures.
 */
export = async () => {
  try {
    const spec = readSpec(stackConfig());
    const dir = loadMigrationDir(path.join(projectRoot(__dirname), "migrations"));
    const applied = await lastApplied();
    const deploy = await planDeploy({ stack: pulumi.getStack(), spec, dir, applied });
    const api = new DevelopersItaliaApi("developers-italia-api", apiArgs(spec, deploy, dir));
    // Its content is the release's (as a contract Job's would be), its order the Deployment's.
    new k8s.core.v1.ConfigMap(
      "after-rollout",
      {
        metadata: { namespace: spec.namespace, labels: { "e2e.developers.italia.it/after-rollout": "true" } },
        data: { image: imageRef(spec.image) },
      },
      { dependsOn: [api.deployment] },
    );
    return stackOutputs(spec, dir, deploy, applied, api);
  } catch (err) {
    throw userError(err);
  }
};

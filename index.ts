import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { apiArgs, DevelopersItaliaApi } from "./components/developersItaliaApi";
import { readSpec } from "./lib/config/readSpec";
import { planDeploy } from "./lib/deploy/plan";
import { loadMigrationPhases } from "./lib/migration/phase";
import { assertBuildCurrent, projectRoot } from "./runtime/buildStamp";
import { userError } from "./runtime/userError";
import { lastApplied, preflightDatabaseUrl, stackConfig } from "./stack/config";
import { stackOutputs } from "./stack/outputs";
import { publishPlan } from "./stack/planArtifact";
import { readPromotionSource } from "./stack/promotionSource";

/** config -> spec -> plan -> components -> outputs. */
export = async () => {
  try {
    assertBuildCurrent(__filename);
    const spec = readSpec(stackConfig());
    const { expand: dir, contract } = loadMigrationPhases(path.join(projectRoot(__dirname), "migrations"));
    const applied = await lastApplied();
    const promotionSource = spec.promoteFrom ? await readPromotionSource(spec.promoteFrom) : undefined;
    const deploy = await planDeploy({
      stack: pulumi.getStack(),
      spec,
      dir,
      contractDir: contract,
      applied,
      promotionSource,
      preflightDatabaseUrl: preflightDatabaseUrl(),
    });
    publishPlan(spec, deploy);
    const api = new DevelopersItaliaApi("developers-italia-api", apiArgs(spec, deploy, dir));
    return stackOutputs(spec, dir, deploy, applied, api);
  } catch (err) {
    throw userError(err);
  }
};

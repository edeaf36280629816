import * as pulumi from "@pulumi/pulumi";

export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly parent?: string;
  /** Names of the resources it depends on (explicit dependsOn and Outputs it consumes). */
  readonly dependsOn: string[];
  /** The create timeout from customTimeouts, e.g. "420s". */
  readonly createTimeout?: string;
  /** The update timeout from customTimeouts. */
  readonly updateTimeout?: string;
  /** Its ignoreChanges property paths. */
  readonly ignoreChanges: string[];
  /** retainOnDelete: the engine drops it from the state instead of deleting it. */
  readonly retainOnDelete: boolean;
}

const nameOfUrn = (urn: string) => urn.split("::").pop() ?? urn;

/**
 * Pulumi mocks that record every registration with its parent and dependencies, read from
 * the mock monitor's RegisterResource requests (MockResourceArgs does not carry them).
 */
export function recordResources(): Registered[] {
  const registered: Registered[] = [];
  const pending = new Map<
    string,
    {
      parent?: string;
      dependsOn: string[];
      createTimeout?: string;
      updateTimeout?: string;
      ignoreChanges: string[];
      retainOnDelete: boolean;
    }
  >();
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const wiring = pending.get(args.name) ?? { dependsOn: [], ignoreChanges: [], retainOnDelete: false };
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, ...wiring });
        const metadata = (args.inputs.metadata ?? {}) as Record<string, unknown>;
        const state =
          args.type === "kubernetes:batch/v1:Job" ? { ...args.inputs, status: { succeeded: 1 } } : { ...args.inputs };
        return {
          id: `${args.name}-id`,
          state: args.custom
            ? { ...state, metadata: { ...metadata, name: metadata.name ?? `${args.name}-x1y2z3` } }
            : state,
        };
      },
      call: (args) => args.inputs,
    },
    "developers-italia-api",
    "unit",
    false,
  );
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  monitor.registerResource = (req: any, ...rest: unknown[]) => {
    const deps = new Set<string>(req.getDependenciesList().map(nameOfUrn));
    for (const [, list] of req.getPropertydependenciesMap().entries()) {
      for (const urn of list.getUrnsList()) deps.add(nameOfUrn(urn));
    }
    pending.set(req.getName(), {
      parent: req.getParent() ? nameOfUrn(req.getParent()) : undefined,
      dependsOn: [...deps].sort(),
      createTimeout: req.getCustomtimeouts()?.getCreate() || undefined,
      updateTimeout: req.getCustomtimeouts()?.getUpdate() || undefined,
      ignoreChanges: req.getIgnorechangesList(),
      retainOnDelete: req.getRetainondelete() === true,
    });
    return register(req, ...rest);
  };
  return registered;
}

/** The value of an Output, to assert on outside `apply`. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

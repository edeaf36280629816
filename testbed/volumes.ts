/**
 * A Job pod's configuration as the kubelet assembles it before the container starts: the
 * ConfigMaps and Secrets it reads, its environment (envFrom, env, `$(VAR)` expansion) and its
 * volumes (configMap, secret, emptyDir) written to this machine, ready for testbed/sandbox.ts
 * to mount at their real mount paths.
 *
 * ConfigMap and Secret volumes get the kubelet's atomic-writer layout: the files live in a
 * timestamped `..<time>` folder, `..data` points at it, and each top-level name is a symlink
 * into `..data` (so a program listing the mount point sees `..data` too, as in a cluster).
 * They are mounted read-only, as the kubelet does. An emptyDir is mode 0777; with a pod
 * fsGroup, volumes belong to that group (setgid directories).
 */
import fs from "node:fs";
import path from "node:path";
import type { Container, EnvVar, KeyToPath, Pod } from "./kube";

/** A problem that keeps the container from starting; `retry`: the pod stays Pending and it is tried again. */
export class StartProblem extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** Reads a ConfigMap's or Secret's data (undefined when it does not exist). */
export type FetchData = (kind: "ConfigMap" | "Secret", name: string) => Promise<Record<string, Buffer> | undefined>;

/** Kubernetes' `$(VAR)` expansion: `$$` → `$`, unknown `$(VAR)` stays as written. */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += lookup(name) ?? `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

function fieldRefValue(pod: Pod, fieldPath: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? "";
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name ?? "";
    case "metadata.namespace":
      return pod.metadata.namespace ?? "";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "";
    case "status.hostIP":
    case "status.podIP":
      return "127.0.0.1";
    default:
      throw new StartProblem(
        `fieldRef ${fieldPath} is not supported by the test-bed executor`,
        "CreateContainerConfigError",
        false,
      );
  }
}

/** The container's environment from envFrom and env, as the kubelet resolves it. */
export async function resolveEnv(pod: Pod, c: Container, fetchData: FetchData): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const cache = new Map<string, Record<string, Buffer> | undefined>();
  const lookup = async (kind: "ConfigMap" | "Secret", name: string) => {
    const k = `${kind}/${name}`;
    if (!cache.has(k)) cache.set(k, await fetchData(kind, name));
    return cache.get(k);
  };
  const ns = pod.metadata.namespace;
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const data = await lookup(kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new StartProblem(`${kind.toLowerCase()} "${ref.name}" not found`, "CreateContainerConfigError", true);
    }
    for (const [k, v] of Object.entries(data)) env[(from.prefix ?? "") + k] = v.toString("utf8");
  }
  const keyRef = async (
    kind: "ConfigMap" | "Secret",
    v: EnvVar,
    sel: { name: string; key: string; optional?: boolean },
  ) => {
    const data = await lookup(kind, sel.name);
    if (!data) {
      if (sel.optional) return undefined;
      throw new StartProblem(`${kind.toLowerCase()} "${sel.name}" not found`, "CreateContainerConfigError", true);
    }
    const value = data[sel.key];
    if (value === undefined) {
      if (sel.optional) return undefined;
      throw new StartProblem(
        `couldn't find key ${sel.key} in ${kind} ${ns}/${sel.name} (env ${v.name})`,
        "CreateContainerConfigError",
        true,
      );
    }
    return value.toString("utf8");
  };
  for (const v of c.env ?? []) {
    let value: string | undefined;
    if (v.valueFrom?.secretKeyRef) value = await keyRef("Secret", v, v.valueFrom.secretKeyRef);
    else if (v.valueFrom?.configMapKeyRef) value = await keyRef("ConfigMap", v, v.valueFrom.configMapKeyRef);
    else if (v.valueFrom?.fieldRef) value = fieldRefValue(pod, v.valueFrom.fieldRef.fieldPath);
    else if (v.valueFrom)
      throw new StartProblem(
        `env ${v.name}: this valueFrom is not supported by the test-bed executor`,
        "CreateContainerConfigError",
        false,
      );
    else value = expandVars(v.value ?? "", (name) => env[name]);
    if (value !== undefined) env[v.name] = value;
  }
  return env;
}

/** A volume ready to mount: the host path and where it goes in the container. */
export interface Mount {
  readonly source: string;
  /** Absolute path in the container. */
  readonly destination: string;
  readonly readOnly: boolean;
  /** A file (subPath to a file), not a directory. */
  readonly file: boolean;
}

/** The timestamped folder name the kubelet's atomic writer uses. */
function payloadDirName(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(
    now.getUTCMinutes(),
  )}_${p(now.getUTCSeconds())}.${p(now.getUTCMilliseconds() * 1000, 9)}`;
}

/**
 * Writes a ConfigMap's or Secret's keys as the atomic writer does; `items` picks keys and
 * paths (key → path), otherwise every key is a file named after it.
 */
export function writeAtomicVolume(
  dir: string,
  data: Record<string, Buffer>,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  what: string,
  fsGroup: number | undefined,
  now = new Date(),
): void {
  const entries: { key: string; path: string; mode?: number }[] =
    items ?? Object.keys(data).map((key) => ({ key, path: key }));
  const payload = payloadDirName(now);
  const payloadDir = path.join(dir, payload);
  fs.mkdirSync(payloadDir, { recursive: true, mode: 0o755 });
  const topLevel = new Set<string>();
  for (const item of entries) {
    const value = data[item.key];
    if (value === undefined) {
      throw new StartProblem(
        `MountVolume.SetUp failed for ${what}: configmap references non-existent config key: ${item.key}`,
        "ContainerCreating",
        true,
      );
    }
    const clean = path.posix.normalize(item.path);
    if (path.posix.isAbsolute(item.path) || clean.split("/").includes("..") || clean.startsWith("..")) {
      throw new StartProblem(`${what}: invalid item path ${item.path}`, "ContainerCreating", false);
    }
    const file = path.join(payloadDir, clean);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(file, value);
    fs.chmodSync(file, item.mode ?? defaultMode);
    topLevel.add(clean.split("/")[0]);
  }
  fs.symlinkSync(payload, path.join(dir, "..data"));
  for (const name of [...topLevel].sort()) fs.symlinkSync(path.posix.join("..data", name), path.join(dir, name));
  if (fsGroup !== undefined) setVolumeOwnership(dir, fsGroup, true);
}

/** The kubelet's fsGroup ownership: group fsGroup, group-readable (-writable unless read-only), setgid dirs. */
function setVolumeOwnership(dir: string, fsGroup: number, readOnly: boolean): void {
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    fs.chownSync(p, st.uid, fsGroup);
    if (st.isDirectory()) {
      fs.chmodSync(p, (st.mode & 0o7777) | 0o2000 | 0o050 | (readOnly ? 0 : 0o020));
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else {
      fs.chmodSync(p, (st.mode & 0o7777) | 0o040 | (readOnly ? 0 : 0o020));
    }
  };
  walk(dir);
}

/**
 * Materialises the container's mounted volumes under `workDir/volumes` and returns what to
 * mount where. A missing ConfigMap/Secret keeps the pod waiting (retried), like a kubelet.
 */
export async function materialiseVolumes(
  pod: Pod,
  c: Container,
  workDir: string,
  fetchData: FetchData,
): Promise<Mount[]> {
  const mounts: Mount[] = [];
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const fsGroup = pod.spec.securityContext?.fsGroup;
  const done = new Map<string, { dir: string; alwaysReadOnly: boolean }>();
  for (const mount of c.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) {
      throw new StartProblem(`volumeMount ${mount.name}: no such volume`, "CreateContainerConfigError", false);
    }
    let entry = done.get(volume.name);
    if (entry === undefined) {
      const dir = path.join(workDir, "volumes", volume.name);
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      const what = `volume "${volume.name}"`;
      let alwaysReadOnly = true;
      if (volume.configMap) {
        const data = await fetchData("ConfigMap", volume.configMap.name);
        if (!data && !volume.configMap.optional) {
          throw new StartProblem(
            `MountVolume.SetUp failed for ${what} : configmap "${volume.configMap.name}" not found`,
            "ContainerCreating",
            true,
          );
        }
        writeAtomicVolume(
          dir,
          data ?? {},
          volume.configMap.items,
          volume.configMap.defaultMode ?? 0o644,
          what,
          fsGroup,
        );
      } else if (volume.secret) {
        const data = await fetchData("Secret", volume.secret.secretName);
        if (!data && !volume.secret.optional) {
          throw new StartProblem(
            `MountVolume.SetUp failed for ${what} : secret "${volume.secret.secretName}" not found`,
            "ContainerCreating",
            true,
          );
        }
        writeAtomicVolume(dir, data ?? {}, volume.secret.items, volume.secret.defaultMode ?? 0o644, what, fsGroup);
      } else if (volume.emptyDir) {
        alwaysReadOnly = false;
        fs.chmodSync(dir, 0o777);
        if (fsGroup !== undefined) setVolumeOwnership(dir, fsGroup, false);
      } else {
        const type =
          Object.keys(volume)
            .filter((k) => k !== "name")
            .join(",") || "unknown";
        throw new StartProblem(
          `${what}: volume type ${type} is not supported by the test-bed executor (only configMap, secret, emptyDir)`,
          "StartError",
          false,
        );
      }
      entry = { dir, alwaysReadOnly };
      done.set(volume.name, entry);
    }
    if (!path.posix.isAbsolute(mount.mountPath)) {
      throw new StartProblem(
        `volumeMount ${mount.name}: mountPath ${mount.mountPath} is not absolute`,
        "StartError",
        false,
      );
    }
    let source = entry.dir;
    if (mount.subPath) {
      const clean = path.posix.normalize(mount.subPath);
      if (path.posix.isAbsolute(clean) || clean.split("/").includes("..")) {
        throw new StartProblem(`volumeMount ${mount.name}: invalid subPath ${mount.subPath}`, "StartError", false);
      }
      source = path.join(entry.dir, clean);
      // The kubelet creates a missing subPath as a directory (in a writable volume).
      if (!fs.existsSync(source)) {
        if (entry.alwaysReadOnly) {
          throw new StartProblem(
            `failed to prepare subPath for volumeMount "${mount.name}": ${mount.subPath} does not exist in the read-only volume`,
            "CreateContainerConfigError",
            false,
          );
        }
        fs.mkdirSync(source, { recursive: true, mode: 0o777 });
      }
    }
    const file = !fs.statSync(source).isDirectory();
    mounts.push({
      source,
      destination: path.posix.normalize(mount.mountPath),
      readOnly: entry.alwaysReadOnly || mount.readOnly === true,
      file,
    });
  }
  return mounts;
}

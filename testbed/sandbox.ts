/**
 * A Job pod's container, run with container semantics by bubblewrap (bwrap), no daemon.
 *
 *   - Root filesystem: a per-pod layer laid out like the image (testbed/images.ts): its
 *     directories, /etc/passwd and /etc/group, and its files bind-mounted read-only at their
 *     paths (Atlas at /atlas). The layer is mounted read-only when the container says
 *     readOnlyRootFilesystem, writable otherwise (writes stay in this pod's layer).
 *   - Volumes at their real mount paths (testbed/volumes.ts), the termination-message file at
 *     terminationMessagePath, a fresh /proc and a minimal /dev.
 *   - Identity: runAsUser / runAsGroup from the pod and container securityContext, else the
 *     image's user; fsGroup and supplementalGroups as supplementary groups; HOME from the
 *     image's /etc/passwd for that uid ("/" if unknown), as runc sets it. runAsNonRoot is
 *     checked as the kubelet does (CreateContainerConfigError).
 *   - A non-root container runs as that real uid (setpriv, then an unprivileged bwrap in its own
 *     user namespace that maps only that uid, with no capabilities and no further user
 *     namespaces). A root container keeps the runtime's default capabilities minus
 *     `capabilities.drop` plus `capabilities.add`. bwrap always sets no_new_privs.
 *   - Own PID, IPC, UTS (hostname = pod name) namespaces; the network is the host's, so
 *     127.0.0.1 is this machine's loopback (where the test bed's PostgreSQL listens).
 *
 * Not emulated: seccomp profiles, cgroup limits (resources), AppArmor/SELinux, and
 * allowPrivilegeEscalation: true (no_new_privs is always on).
 */
import fs from "node:fs";
import path from "node:path";
import { type Container, type Pod, type SecurityContext } from "./kube";
import { resolveImage, type ImageUser, type LocalImage } from "./images";
import { StartProblem, expandVars, materialiseVolumes, resolveEnv, type FetchData, type Mount } from "./volumes";

export const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";

/** containerd's default capabilities for a container (oci.DefaultCapabilities). */
export const RUNTIME_DEFAULT_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (the primary gid first). */
  readonly groups: readonly number[];
  readonly home: string;
}

/** The pod's securityContext with the container's on top (the container's fields win). */
export function effectiveSecurityContext(pod: Pod, c: Container): SecurityContext {
  const p = pod.spec.securityContext ?? {};
  const s = c.securityContext ?? {};
  return {
    ...s,
    runAsUser: s.runAsUser ?? p.runAsUser,
    runAsGroup: s.runAsGroup ?? p.runAsGroup,
    runAsNonRoot: s.runAsNonRoot ?? p.runAsNonRoot,
    seccompProfile: s.seccompProfile ?? p.seccompProfile,
  };
}

function podRef(pod: Pod): string {
  return `"${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})"`;
}

/**
 * Who the container runs as, or the kubelet's refusal (verifyRunAsNonRoot): with
 * runAsNonRoot, a runAsUser of 0, or no runAsUser and an image whose user is root (or a
 * name the kubelet cannot check), is a CreateContainerConfigError; the pod stays Pending.
 */
export function containerIdentity(pod: Pod, c: Container, image: LocalImage): Identity {
  const sc = effectiveSecurityContext(pod, c);
  const [userPart, groupPart] = image.user.split(":");
  const numeric = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  let imageUser: ImageUser | undefined;
  let imageUid = numeric(userPart);
  if (userPart === "" || userPart === undefined) imageUid = 0;
  if (imageUid === undefined) {
    imageUser = image.users.find((u) => u.name === userPart);
  } else {
    imageUser = image.users.find((u) => u.uid === imageUid);
  }
  if (sc.runAsNonRoot) {
    if (sc.runAsUser !== undefined) {
      if (sc.runAsUser === 0) {
        throw new StartProblem(
          `container's runAsUser breaks non-root policy (pod: ${podRef(pod)}, container: ${c.name})`,
          "CreateContainerConfigError",
          false,
        );
      }
    } else if (imageUid === 0) {
      throw new StartProblem(
        `container has runAsNonRoot and image will run as root (pod: ${podRef(pod)}, container: ${c.name})`,
        "CreateContainerConfigError",
        false,
      );
    } else if (imageUid === undefined) {
      throw new StartProblem(
        `container has runAsNonRoot and image has non-numeric user (${userPart}), cannot verify user is non-root (pod: ${podRef(pod)}, container: ${c.name})`,
        "CreateContainerConfigError",
        false,
      );
    }
  }
  const uid = sc.runAsUser ?? imageUid ?? imageUser?.uid;
  if (uid === undefined) {
    throw new StartProblem(
      `unable to find user ${userPart}: no matching entries in passwd file`,
      "CreateContainerError",
      false,
    );
  }
  const passwdEntry = image.users.find((u) => u.uid === uid);
  const imageGid = numeric(groupPart) ?? (groupPart ? image.groups.find((g) => g.name === groupPart)?.gid : undefined);
  const gid = sc.runAsGroup ?? (sc.runAsUser === undefined ? imageGid : undefined) ?? passwdEntry?.gid ?? 0;
  const groups = [gid];
  const podSc = pod.spec.securityContext ?? {};
  for (const g of [...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc.supplementalGroups ?? [])]) {
    if (!groups.includes(g)) groups.push(g);
  }
  return { uid, gid, groups, home: passwdEntry?.home ?? "/" };
}

/** The capabilities a root container keeps: the runtime's defaults, minus drop, plus add. */
export function effectiveCapabilities(sc: SecurityContext): string[] {
  const norm = (c: string) => (c.toUpperCase() === "ALL" ? "ALL" : `CAP_${c.toUpperCase().replace(/^CAP_/, "")}`);
  const drop = (sc.capabilities?.drop ?? []).map(norm);
  const add = (sc.capabilities?.add ?? []).map(norm);
  let caps = drop.includes("ALL") ? [] : RUNTIME_DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  for (const c of add) if (c !== "ALL" && !caps.includes(c)) caps = [...caps, c];
  return caps;
}

/**
 * The process's argv as Kubernetes composes it: `command` replaces the image's entrypoint
 * (and drops its cmd), `args` replaces the cmd; `$(VAR)` is expanded in the pod's strings only.
 */
export function commandLine(c: Container, image: LocalImage, expand: (s: string) => string): string[] {
  const hasCommand = (c.command ?? []).length > 0;
  const hasArgs = (c.args ?? []).length > 0;
  const command = hasCommand ? (c.command as string[]).map(expand) : [...image.entrypoint];
  const args = hasArgs ? (c.args as string[]).map(expand) : hasCommand ? [] : [...image.cmd];
  return [...command, ...args];
}

/** Whether `file` exists in the container: an image file, or under a mount. */
function existsInContainer(file: string, image: LocalImage, mounts: readonly Mount[]): boolean {
  if (image.files.some((f) => f.path === file)) return true;
  for (const m of mounts) {
    if (file === m.destination) return m.file;
    if (!m.file && file.startsWith(`${m.destination}/`)) {
      return fs.existsSync(path.join(m.source, file.slice(m.destination.length + 1)));
    }
  }
  return false;
}

/** The runtime's start error when the executable is not in the container (exit code 128). */
export function checkExecutable(
  argv0: string,
  env: Record<string, string>,
  image: LocalImage,
  mounts: readonly Mount[],
): void {
  const prefix =
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process:";
  if (argv0.includes("/")) {
    if (!existsInContainer(argv0, image, mounts)) {
      throw new StartProblem(
        `${prefix} exec: "${argv0}": stat ${argv0}: no such file or directory: unknown`,
        "StartError",
        false,
      );
    }
    return;
  }
  const dirs = (env.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  if (!dirs.some((d) => existsInContainer(path.posix.join(d, argv0), image, mounts))) {
    throw new StartProblem(
      `${prefix} exec: "${argv0}": executable file not found in $PATH: unknown`,
      "StartError",
      false,
    );
  }
}

/** True if every folder above `file` can be traversed by any user (an unprivileged bwrap can bind it). */
export function reachableByAnyone(file: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dir === "/") return true;
  }
}

/**
 * The host path an image file is bound from. A file under a folder that a non-root sandbox
 * cannot traverse (e.g. the tools cache in root's home) is hard-linked (copied across
 * filesystems) into `stageDir`, once: the same bytes, reachable by the container's uid.
 */
export function stagedSource(file: string, stageDir: string): string {
  const real = fs.realpathSync(file);
  if (reachableByAnyone(real)) return real;
  // Keyed by inode and mtime too: a rebuilt tool gets a new staged copy.
  const st = fs.statSync(real);
  const target = path.join(
    stageDir,
    `${real.replace(/^\/+/, "").replace(/\//g, "__")}-${st.ino}-${Math.trunc(st.mtimeMs)}`,
  );
  if (!fs.existsSync(target)) {
    fs.mkdirSync(stageDir, { recursive: true, mode: 0o755 });
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      fs.linkSync(real, tmp);
    } catch {
      fs.copyFileSync(real, tmp);
      fs.chmodSync(tmp, fs.statSync(real).mode & 0o777);
    }
    fs.renameSync(tmp, target);
  }
  return target;
}

export interface SandboxSpec {
  readonly pod: Pod;
  readonly container: Container;
  readonly image: LocalImage;
  readonly identity: Identity;
  readonly mounts: readonly Mount[];
  /** Host file bound at terminationMessagePath. */
  readonly terminationLog: string;
  /** The pod's work folder; the layer is built in `<workDir>/rootfs`. */
  readonly workDir: string;
  /** Where image files that need staging go (shared by pods). */
  readonly stageDir: string;
  readonly argv: readonly string[];
  readonly cwd: string;
}

function writeFile(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
}

/** The container's root filesystem layer: the image's skeleton plus the mount points the runtime creates. */
export function buildLayer(spec: SandboxSpec): string {
  const layer = path.join(spec.workDir, "rootfs");
  fs.rmSync(layer, { recursive: true, force: true });
  fs.mkdirSync(layer, { mode: 0o755 });
  fs.chmodSync(layer, 0o755);
  const inLayer = (p: string) => path.join(layer, p);
  for (const d of spec.image.dirs) {
    fs.mkdirSync(inLayer(d.path), { recursive: true, mode: 0o755 });
    fs.chmodSync(inLayer(d.path), d.mode);
    if (d.uid !== undefined) fs.chownSync(inLayer(d.path), d.uid, d.gid ?? d.uid);
  }
  const image = spec.image;
  writeFile(
    inLayer("/etc/passwd"),
    image.users.map((u) => `${u.name}:x:${u.uid}:${u.gid}:${u.name}:${u.home}:/sbin/nologin\n`).join(""),
  );
  writeFile(inLayer("/etc/group"), image.groups.map((g) => `${g.name}:x:${g.gid}:\n`).join(""));
  writeFile(inLayer("/etc/nsswitch.conf"), "hosts: files dns\n");
  // The kubelet-managed files.
  const hostname = spec.pod.spec.hostname ?? spec.pod.metadata.name ?? "";
  writeFile(inLayer("/etc/hostname"), `${hostname}\n`);
  writeFile(
    inLayer("/etc/hosts"),
    `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t${hostname}\n`,
  );
  // Mount points: image files, volumes, the termination log, the working directory.
  for (const f of image.files) writeFile(inLayer(f.path), "", 0o755);
  for (const m of spec.mounts) {
    if (m.file) {
      if (!fs.existsSync(inLayer(m.destination))) writeFile(inLayer(m.destination), "");
    } else {
      fs.mkdirSync(inLayer(m.destination), { recursive: true, mode: 0o755 });
    }
  }
  const termPath = spec.container.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH;
  if (!termPath.startsWith("/dev/") && !fs.existsSync(inLayer(termPath))) writeFile(inLayer(termPath), "");
  fs.mkdirSync(inLayer(spec.cwd), { recursive: true, mode: 0o755 });
  return layer;
}

/** An executable of this machine, by its absolute path (the container's PATH must not pick it). */
export function hostTool(name: string, searchPath = process.env.PATH ?? ""): string {
  for (const dir of [...searchPath.split(":"), "/usr/bin", "/bin", "/usr/sbin"]) {
    if (!dir.startsWith("/")) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  throw new Error(
    `${name} is not installed: the test-bed executor needs it (Debian: apt-get install ${name === "bwrap" ? "bubblewrap" : "util-linux"})`,
  );
}

/** The command that runs the container: setpriv (identity) → bwrap (namespaces, mounts) → argv. */
export function sandboxCommand(spec: SandboxSpec, layer: string): { file: string; args: string[] } {
  const c = spec.container;
  const sc = effectiveSecurityContext(spec.pod, c);
  if (sc.privileged) {
    throw new StartProblem("privileged containers are not supported by the test-bed executor", "StartError", false);
  }
  const id = spec.identity;
  const bwrap: string[] = [
    "--die-with-parent",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    spec.pod.spec.hostname ?? spec.pod.metadata.name ?? "pod",
  ];
  if (id.uid !== 0) {
    // An unprivileged bwrap: a user namespace mapping only this uid/gid, no capabilities.
    bwrap.push("--unshare-user", "--disable-userns", "--uid", String(id.uid), "--gid", String(id.gid));
  } else {
    bwrap.push("--cap-drop", "ALL");
    for (const cap of effectiveCapabilities(sc)) bwrap.push("--cap-add", cap);
  }
  bwrap.push(sc.readOnlyRootFilesystem ? "--ro-bind" : "--bind", layer, "/");
  for (const f of spec.image.files) bwrap.push("--ro-bind", stagedSource(f.source, spec.stageDir), f.path);
  bwrap.push("--proc", "/proc", "--dev", "/dev");
  // Shallow mounts first, so a volume inside another one lands on top of it.
  const mounts = [...spec.mounts].sort((a, b) => a.destination.split("/").length - b.destination.split("/").length);
  for (const m of mounts) bwrap.push(m.readOnly ? "--ro-bind" : "--bind", m.source, m.destination);
  bwrap.push("--bind", spec.terminationLog, c.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH);
  bwrap.push("--chdir", spec.cwd, "--", ...spec.argv);
  const identity = [
    `--reuid=${id.uid}`,
    `--regid=${id.gid}`,
    `--groups=${id.groups.join(",")}`,
    "--",
    hostTool("bwrap"),
  ];
  return { file: hostTool("setpriv"), args: [...identity, ...bwrap] };
}

/** A container ready to start: spawn `file` with `args` and exactly `env`. */
export interface PreparedContainer {
  /** The container's own argv (for logs). */
  readonly argv: string[];
  readonly file: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  /** Host file bound at terminationMessagePath. */
  readonly terminationLog: string;
}

/**
 * Everything the kubelet and the runtime do before a Job pod's container starts, in their
 * order: volumes (may throw StartProblem, retry), image pull (`pullError` when the table does
 * not have it), container config (identity and runAsNonRoot, env: StartProblem), argv and the
 * executable (StartProblem StartError), then the layer and the sandbox command. `workDir` is
 * emptied first.
 */
export async function prepareContainer(
  pod: Pod,
  workDir: string,
  fetchData: FetchData,
  images: readonly LocalImage[],
  stageDir: string,
): Promise<PreparedContainer | { pullError: string }> {
  if (pod.spec.containers.length !== 1 || (pod.spec.initContainers ?? []).length > 0) {
    throw new StartProblem(
      "the test-bed executor runs pods with exactly one container and no init containers",
      "StartError",
      false,
    );
  }
  const c = pod.spec.containers[0];
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(workDir, 0o755);
  const mounts = await materialiseVolumes(pod, c, workDir, fetchData);
  const resolved = resolveImage(images, c.image ?? "");
  if ("error" in resolved) return { pullError: resolved.error };
  const image = resolved.image;
  const identity = containerIdentity(pod, c, image);
  const containerEnv = await resolveEnv(pod, c, fetchData);
  const env: Record<string, string> = {
    ...image.env,
    HOSTNAME: pod.spec.hostname ?? pod.metadata.name ?? "",
    ...containerEnv,
  };
  if (env.HOME === undefined) env.HOME = identity.home;
  const argv = commandLine(c, image, (s) => expandVars(s, (name) => containerEnv[name]));
  checkExecutable(argv[0], env, image, mounts);
  const terminationLog = path.join(workDir, "termination-log");
  fs.writeFileSync(terminationLog, "");
  fs.chmodSync(terminationLog, 0o666);
  const spec: SandboxSpec = {
    pod,
    container: c,
    image,
    identity,
    mounts,
    terminationLog,
    workDir,
    stageDir,
    argv,
    cwd: c.workingDir ?? image.workingDir ?? "/",
  };
  const command = sandboxCommand(spec, buildLayer(spec));
  return { argv, file: command.file, args: command.args, env, terminationLog };
}

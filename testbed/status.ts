/**
 * What the executor writes to a Job pod's status, shaped as a kubelet writes it: container
 * states (waiting / running / terminated), pod conditions, and the termination message.
 */
import fs from "node:fs";
import type { Container, ContainerState, ContainerStatus } from "./kube";

/** Kubelet limits for termination messages (pkg/kubelet/container). */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
const MAX_FALLBACK_LOG_LINES = 80;
const MAX_FALLBACK_LOG_BYTES = 2048;

/** The kubelet's FallbackToLogsOnError message: the last 80 lines, at most 2048 bytes. */
export function logTail(output: Buffer): string {
  let text = output;
  // Last 80 lines (a trailing newline does not start a line).
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let lines = 0;
  let start = end;
  while (start > 0) {
    if (text[start - 1] === 0x0a) {
      lines++;
      if (lines >= MAX_FALLBACK_LOG_LINES) break;
    }
    start--;
  }
  text = text.subarray(start);
  if (text.length > MAX_FALLBACK_LOG_BYTES) text = text.subarray(text.length - MAX_FALLBACK_LOG_BYTES);
  return text.toString("utf8");
}

/** The last `max` bytes of a file from offset `from`. */
export function readTail(file: string, from: number, max: number): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(from, size - max);
    const buf = Buffer.alloc(Math.max(0, size - start));
    fs.readSync(fd, buf, 0, buf.length, start);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The termination message: the container's terminationMessagePath file (last 4096 bytes);
 * if empty, with FallbackToLogsOnError and a non-zero exit, the tail of the output.
 */
export function terminationMessage(
  c: Container,
  exitCode: number,
  terminationLog: string,
  logFile: string,
  logOffset: number,
): string {
  let message = "";
  try {
    message = readTail(terminationLog, 0, MAX_TERMINATION_MESSAGE_BYTES).toString("utf8");
  } catch {
    // no termination log
  }
  if (message === "" && exitCode !== 0 && c.terminationMessagePolicy === "FallbackToLogsOnError") {
    try {
      message = logTail(readTail(logFile, logOffset, 1024 * 1024));
    } catch {
      // no output
    }
  }
  return message;
}

export function containerStatus(
  c: Container,
  state: ContainerState,
  ready: boolean,
  restartCount: number,
  containerID: string | undefined,
  lastState?: ContainerState,
): ContainerStatus {
  return {
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    containerID,
    ready,
    started: state.running !== undefined,
    restartCount,
    state,
    ...(lastState ? { lastState } : {}),
  };
}

export function podConditions(ready: boolean, reason?: string, started = true) {
  const now = new Date().toISOString();
  const status = ready ? ("True" as const) : ("False" as const);
  return [
    {
      type: "PodReadyToStartContainers",
      status: started ? ("True" as const) : ("False" as const),
      lastTransitionTime: now,
    },
    { type: "Initialized", status: "True" as const, lastTransitionTime: now },
    { type: "ContainersReady", status, lastTransitionTime: now, ...(reason ? { reason } : {}) },
    { type: "Ready", status, lastTransitionTime: now, ...(reason ? { reason } : {}) },
  ];
}

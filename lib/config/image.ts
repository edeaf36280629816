import { ConfigError, type ConfigSource } from "./source";
import { text } from "./read";
import type { ImageSpec } from "../spec";

/**
 * Atlas's community build (Apache 2.0, open-source code only, no login for `migrate apply`)
 * of a current release: it opens PostgreSQL 16-18, which the test bed's Atlas 0.13 cannot.
 * Ariga deletes images about six months after release: mirror it and pin it by digest
 * (docs/testbed.md, "Atlas versions").
 */
export const ATLAS_IMAGE = "arigaio/atlas:1.2.3-community";
export const DEFAULT_IMAGE = "ghcr.io/italia/developers-italia-api";
export const DEFAULT_TAG = "v1.4.0";

const digestPattern = /^sha256:[a-f0-9]{64}$/;

/** `image`, `imageTag` and `imageDigest`: the API's image, checked as the container runtime reads it. */
export function readImage(config: ConfigSource): ImageSpec {
  const digest = text(config, "imageDigest");
  if (digest !== undefined && !digestPattern.test(digest)) {
    throw new ConfigError("imageDigest", `expected sha256:<64 hex digits>, got ${JSON.stringify(digest)}`);
  }
  const image = {
    repository: text(config, "image") ?? DEFAULT_IMAGE,
    tag: text(config, "imageTag") ?? DEFAULT_TAG,
    digest,
  };
  if (/[@:]/.test(image.repository.split("/").pop() ?? "")) {
    throw new ConfigError("image", "give the repository only; put the tag in imageTag and the digest in imageDigest");
  }
  if (!imageNamePattern.test(image.repository)) {
    throw new ConfigError(
      "image",
      `${JSON.stringify(image.repository)} is not an image repository (lower-case; a registry host needs a dot ` +
        `or a port, e.g. ${DEFAULT_IMAGE})`,
    );
  }
  if (!imageTagPattern.test(image.tag)) {
    throw new ConfigError(
      "imageTag",
      `${JSON.stringify(image.tag)} is not an image tag (letters, digits, ".", "_" and "-", at most 128, e.g. ${DEFAULT_TAG})`,
    );
  }
  return image;
}

/** The full image reference the API runs: digest-pinned when a digest is configured. */
export function imageRef(image: ImageSpec): string {
  return image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag}`;
}

/**
 * An image repository as the container runtime splits it (distribution/reference): the
 * first component is a registry host only with a dot, a port or as localhost; every
 * component lower-case. `ARIGAIO/atlas` is not Docker Hub's arigaio/atlas but a registry
 * host "ARIGAIO" no node can reach, so it is refused.
 */
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const hostLabel = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
const registryHost = `(?:${hostLabel}(?:\\.${hostLabel})+(?::\\d+)?|${hostLabel}:\\d+|\\[[0-9a-f:]+\\](?::\\d+)?)`;
const imageNamePattern = new RegExp(`^(?:${registryHost}/)?${pathComponent}(?:/${pathComponent})*$`);
const imageTagPattern = /^[\w][\w.-]{0,127}$/;
/** A release: x.y.z, an optional leading v, an optional suffix (1.2.3-community, v1.4.0-rc.1). */
const versionTagPattern = /^v?\d+\.\d+\.\d+(?:[-._+][0-9A-Za-z][0-9A-Za-z._-]*)?$/;
/** Words that name a moving build wherever they appear in a tag's suffix (1.2.3-latest, 1.2.3-nightly). */
export const MOVING_TAG_WORDS = [
  "latest",
  "main",
  "master",
  "trunk",
  "head",
  "edge",
  "nightly",
  "canary",
  "dev",
  "develop",
  "snapshot",
  "stable",
  "current",
  "next",
  "unstable",
  "rolling",
];

/** Whether a tag names one release: x.y.z, with no suffix word that names a moving build. */
export function isPinnedTag(tag: string): boolean {
  if (!versionTagPattern.test(tag)) return false;
  const suffix = tag.replace(/^v?\d+\.\d+\.\d+/, "");
  return !suffix
    .toLowerCase()
    .split(/[-._+]/)
    .some((word) => MOVING_TAG_WORDS.includes(word));
}

/**
 * An image that always means the same bits: a digest, or a full version tag (x.y.z). A
 * missing tag, `latest` or any other moving tag would keep the Job's content key while the
 * image changes under it.
 */
export function checkPinnedImage(key: string, ref: string): void {
  const at = ref.indexOf("@");
  const named = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const name = colon > slash ? named.slice(0, colon) : named;
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const example = `e.g. ${ATLAS_IMAGE} or ${ATLAS_IMAGE.split(":")[0]}@sha256:<64 hex digits>`;
  if (!imageNamePattern.test(name) || (tag !== undefined && !imageTagPattern.test(tag))) {
    throw new ConfigError(key, `${JSON.stringify(ref)} is not an image reference (${example})`);
  }
  if (digest !== undefined) {
    if (!digestPattern.test(digest)) {
      throw new ConfigError(key, `${JSON.stringify(ref)}: the digest must be sha256:<64 hex digits> (${example})`);
    }
    return;
  }
  if (tag === undefined || !isPinnedTag(tag)) {
    throw new ConfigError(
      key,
      `${JSON.stringify(ref)} ${tag === undefined ? "has no tag" : `has the moving tag ${JSON.stringify(tag)}`}: ` +
        "the migration Job is re-run only when its spec changes, so the image must not change under the same name; " +
        "pin a version tag (x.y.z, optionally with a leading v and a suffix such as -community, but no suffix naming " +
        `a moving build: ${MOVING_TAG_WORDS.slice(0, 7).join(", ")}, ...) or a digest (${example})`,
    );
  }
}

/**
 * The PostgreSQL drivers that really connect, run as oracles (testbed/probes/pgdrivers):
 * lib/pq at the version production's Atlas image pins and at the one the test bed's Atlas
 * 0.13.1 asks for, and pgx as the API opens it (GORM's driver).
 */
import { askProbe, buildGoProbe } from "./goProbe";

export const DRIVERS = {
  /** Inside arigaio/atlas:1.2.3-community, the image the Job runs by default. */
  "lib/pq 1.12.0": { module: "pgdrivers", pkg: "./libpq", name: "libpq-1.12.0" },
  /** What Atlas 0.13.1's own go.mod asks for. */
  "lib/pq 1.10.7": { module: "pgdrivers", pkg: "./libpq", name: "libpq-1.10.7", modfile: "pq-1.10.7.mod" },
  /** The API's (gorm.io/driver/postgres v1.6.2 on pgx v5.10.0). */
  "pgx 5.10.0": { module: "pgdrivers", pkg: "./pgx", name: "pgx-5.10.0" },
} as const;
export type Driver = keyof typeof DRIVERS;
export const DRIVER_NAMES = Object.keys(DRIVERS) as Driver[];

/** The session the server reports, or the driver's own error. */
export interface Session {
  readonly ok: boolean;
  readonly user?: string;
  readonly database?: string;
  readonly ssl: boolean;
  readonly error?: string;
}

/** Connects to each DSN through one driver, all in one process. */
export async function connectThrough(driver: Driver, dsns: readonly string[]): Promise<Session[]> {
  return askProbe<{ dsn: string }, Session>(
    await buildGoProbe(DRIVERS[driver]),
    dsns.map((dsn) => ({ dsn })),
  );
}

/** Builds every driver's probe (before a test's own clock starts). */
export async function buildDrivers(): Promise<void> {
  await Promise.all(DRIVER_NAMES.map((d) => buildGoProbe(DRIVERS[d])));
}

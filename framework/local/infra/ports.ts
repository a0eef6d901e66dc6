/**
 * Port checks before a start: a port held by anything that is not our healthy instance is
 * an error the user must resolve, never something to kill.
 */
import { createServer } from 'node:net';
import { InfraError } from '../../errors.js';

/** A port a service wants, with the env var that moves it. */
export interface PortClaim {
  readonly port: number;
  /** e.g. "Kafka", "Kafka controller". */
  readonly what: string;
  /** e.g. SLUICE_KAFKA_PORT. */
  readonly envVar: string;
}

/** True if nothing can bind the port right now (someone listens on it). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES') resolve(true);
      else reject(e);
    });
    // The wildcard address collides with a listener on any interface, 127.0.0.1 included.
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** Throws an InfraError naming the first claimed port that is taken and the env var to change. */
export async function assertPortsFree(claims: readonly PortClaim[]): Promise<void> {
  for (const claim of claims) {
    if (await portInUse(claim.port)) {
      throw new InfraError(
        `Port ${claim.port} (${claim.what}) is in use by a process that is not a Sluice instance started from this project`,
        `stop that process (find it with: lsof -nP -iTCP:${claim.port} -sTCP:LISTEN) or choose another port, e.g. ${claim.envVar}=${claim.port + 100}`,
      );
    }
  }
}

/** A port the OS says is free right now (for tests that need a private instance). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

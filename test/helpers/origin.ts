import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startSampleOrigin, type SampleOrigin } from '../../src/demo/sample-origin.js';

export interface TestOrigin extends SampleOrigin {
  readonly root: string;
}

/** A file-storing origin in a fresh temp dir; `close` removes the dir too. */
export async function startTestOrigin(port = 0): Promise<TestOrigin> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'headroom-origin-'));
  const origin = await startSampleOrigin(root, port);
  return {
    ...origin,
    root,
    close: async () => {
      await origin.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

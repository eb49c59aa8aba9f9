/** Where tests find the repo and the shared real-chat data (`../shared/data`, absent in users' clones). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DATA = path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const SHARED_MODELS = path.resolve(REPO_ROOT, '..', 'shared', 'models');

/** For `test(name, { skip: sharedDataMissing() }, ...)`: a reason string when ../shared/data is absent. */
export function sharedDataMissing(): string | false {
  return fs.existsSync(SHARED_DATA) ? false : `skipped: ${SHARED_DATA} is absent (real chat data ships beside the repo in CI only)`;
}

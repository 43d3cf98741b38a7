import path from 'node:path';

/** The repository root, the same from backend/src (tsx) and backend/dist (compiled). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and audit entry of a request needs to know, without passing it by hand. */
export interface RequestContext {
  requestId: string;
  tenantId?: string;
  actorId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const runWithRequestContext = <T>(context: RequestContext, fn: () => T): T => storage.run(context, fn);

export const currentRequestContext = (): RequestContext | undefined => storage.getStore();

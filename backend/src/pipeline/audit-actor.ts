import { AuditActor } from '../modules/audit/audit-context';
import { TenantCredential } from './authorize-caller';
import { RequestFrame } from './request-frame';

/** Who acts, from where: stamped on every audit entry the request produces, failures included. */
export const auditActorOf = ({ req, res }: RequestFrame, credential: TenantCredential): AuditActor => ({
  actorType: credential.kind,
  actorId: credential.kind === 'user' ? credential.userId : credential.apiKeyId,
  impersonatorId: credential.kind === 'user' ? (credential.impersonatorId ?? null) : null,
  ip: req.ip ?? null,
  userAgent: req.get('user-agent') ?? null,
  requestId: String(res.locals.requestId),
});

import { RequestHandler } from 'express';
import Joi from 'joi';
import { Knex } from 'knex';
import { withCredentialLookup } from '../infra/credential-lookup';
import { AppError } from '../lib/errors';

const uuid = Joi.string().uuid();

/**
 * Stage 6: reads which tenant the request names, from X-Tenant-ID or the subdomain under
 * TENANT_BASE_DOMAIN (acme.example.com). Two names that disagree are 403 TENANT_MISMATCH; a subdomain
 * no tenant has is 404. The authenticated token stays the truth: authenticate compares against this.
 */
export function tenantResolver(knex: Knex, baseDomain: string | undefined): RequestHandler {
  return async (req, res, next) => {
    try {
      const header = req.get('x-tenant-id');
      if (header !== undefined && uuid.validate(header).error) {
        throw new AppError('VALIDATION_ERROR', 'X-Tenant-ID must be a tenant id (UUID)', [
          { field: 'X-Tenant-ID', message: 'must be a valid UUID' },
        ]);
      }
      const subdomain = baseDomain ? subdomainOf(req.hostname, baseDomain) : undefined;
      const fromSubdomain = subdomain ? await tenantIdBySubdomain(knex, subdomain) : undefined;
      if (header && fromSubdomain && header.toLowerCase() !== fromSubdomain) {
        throw new AppError('TENANT_MISMATCH', 'X-Tenant-ID and the subdomain name different tenants');
      }
      res.locals.requestedTenantId = header?.toLowerCase() ?? fromSubdomain;
      next();
    } catch (error) {
      next(error);
    }
  };
}

function subdomainOf(hostname: string, baseDomain: string): string | undefined {
  const host = hostname.toLowerCase();
  if (!host.endsWith(`.${baseDomain}`)) return undefined;
  const label = host.slice(0, -(baseDomain.length + 1));
  return /^[a-z0-9-]{1,63}$/.test(label) && label !== 'www' && label !== 'api' ? label : undefined;
}

async function tenantIdBySubdomain(knex: Knex, subdomain: string): Promise<string> {
  const row = await withCredentialLookup(knex, 'subdomain', subdomain, (trx) =>
    trx('tenants').where({ subdomain }).first<{ id: string } | undefined>('id'),
  );
  if (!row) throw new AppError('NOT_FOUND', 'No tenant has this subdomain');
  return row.id;
}

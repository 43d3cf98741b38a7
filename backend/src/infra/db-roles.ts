import { createHmac } from 'node:crypto';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/project-root';

interface RoleNames {
  groupRoleFor(database: string): string;
  loginRoleFor(database: string): string;
  platformRoleFor(database: string): string;
  platformLoginRoleFor(database: string): string;
  jobsRoleFor(database: string): string;
  jobsLoginRoleFor(database: string): string;
}
// One definition of the role names, shared with the migrations that grant to them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const roleNames = require(path.join(PROJECT_ROOT, 'migrations', 'support', 'role-names.js')) as RoleNames;

export interface RuntimeCredentials {
  url: string;
  user: string;
  password?: string;
  /** NOLOGIN role holding the grants; the login role is made a member of it. */
  groupRole: string;
}

export const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));

/**
 * The credentials the server connects with: APP_DATABASE_URL when given, else a login role derived from
 * DATABASE_URL. Its password is an HMAC of the admin password, so DATABASE_URL alone suffices and the
 * runtime password never reveals the admin one.
 */
export function runtimeCredentials(adminUrl: string, appUrl?: string): RuntimeCredentials {
  const groupRole = roleNames.groupRoleFor(databaseName(adminUrl));
  if (appUrl) return givenLogin(appUrl, groupRole);
  return derivedLogin(adminUrl, roleNames.loginRoleFor(databaseName(adminUrl)), groupRole);
}

/**
 * The platform pool's credentials (admin console routes): always a login derived from DATABASE_URL,
 * member of the platform group, which reads across tenants but writes only tenants' status and plan.
 */
export function platformCredentials(adminUrl: string): RuntimeCredentials {
  const database = databaseName(adminUrl);
  return derivedLogin(adminUrl, roleNames.platformLoginRoleFor(database), roleNames.platformRoleFor(database));
}

/**
 * The job engine's credentials (graphile-worker's queue, the audit sealer and pruner, the purge): always a
 * login derived from DATABASE_URL, member of the jobs group, which owns nothing and bypasses nothing.
 */
export function jobsCredentials(adminUrl: string): RuntimeCredentials {
  const database = databaseName(adminUrl);
  return derivedLogin(adminUrl, roleNames.jobsLoginRoleFor(database), roleNames.jobsRoleFor(database));
}

/** The three logins a serving process (`npm start`, `npm run worker`) connects as, and nothing else. */
export interface ServingCredentials {
  runtime: RuntimeCredentials;
  platform: RuntimeCredentials;
  jobs: RuntimeCredentials;
}

export interface ServingUrls {
  adminUrl?: string;
  appUrl?: string;
  platformUrl?: string;
  jobsUrl?: string;
}

/**
 * The serving logins: the URLs given (APP_, PLATFORM_ and JOBS_DATABASE_URL: the process then never sees
 * the owner's URL), else derived from DATABASE_URL.
 */
export function servingCredentials(urls: ServingUrls): ServingCredentials {
  if (urls.appUrl && urls.platformUrl && urls.jobsUrl) {
    const database = databaseName(urls.platformUrl);
    return {
      runtime: givenLogin(urls.appUrl, roleNames.groupRoleFor(database)),
      platform: givenLogin(urls.platformUrl, roleNames.platformRoleFor(database)),
      jobs: givenLogin(urls.jobsUrl, roleNames.jobsRoleFor(database)),
    };
  }
  if (!urls.adminUrl) throw new Error('DATABASE_URL, or APP_, PLATFORM_ and JOBS_DATABASE_URL, name the database');
  return { runtime: runtimeCredentials(urls.adminUrl, urls.appUrl), platform: platformCredentials(urls.adminUrl), jobs: jobsCredentials(urls.adminUrl) };
}

function givenLogin(url: string, groupRole: string): RuntimeCredentials {
  const parsed = new URL(url);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  return { url, user: decodeURIComponent(parsed.username), password, groupRole };
}

function derivedLogin(adminUrl: string, user: string, groupRole: string): RuntimeCredentials {
  const parsed = new URL(adminUrl);
  const adminPassword = decodeURIComponent(parsed.password);
  const password = adminPassword
    ? createHmac('sha256', adminPassword).update(`runtime-role:${user}`).digest('base64url')
    : undefined;
  parsed.username = encodeURIComponent(user);
  parsed.password = password ? encodeURIComponent(password) : '';
  return { url: parsed.toString(), user, password, groupRole };
}

import Joi from 'joi';

/** The validated environment, by variable name, as the fallbacks of other variables see it. */
export type Env = Record<string, unknown>;

/** One environment variable: its name, what it means, its rules and default, and how its value is read. */
export interface Setting<T> {
  readonly kind: 'setting';
  readonly env: string;
  readonly doc: string;
  /** The variable's rules, its default included. */
  readonly schema: Joi.Schema;
  readonly read: (value: unknown) => T;
}

/** Settings that exist together: present when the first of `required` is set, whose rules require the others with it. */
export interface Group<S extends Settings, K extends keyof S> {
  readonly kind: 'group';
  readonly required: readonly [K, ...K[]];
  readonly settings: S;
}

export interface Settings {
  readonly [field: string]: Setting<unknown> | Group<Settings, string> | Settings;
}

/** A variable that always has a value: the one given, else `fallback` (a value, or one computed from the others). */
export function setting<T>(env: string, doc: string, schema: Joi.Schema<T>, fallback: T | ((others: Env) => T)): Setting<T>;
export function setting<T, R>(env: string, doc: string, schema: Joi.Schema<T>, fallback: T | ((others: Env) => T), read: (value: T) => R): Setting<R>;
export function setting<T, R>(env: string, doc: string, schema: Joi.Schema<T>, fallback: T | ((others: Env) => T), read?: (value: T) => R): Setting<T | R> {
  const withDefault = typeof fallback === 'function' ? schema.default((others: Env) => (fallback as (others: Env) => T)(others)) : schema.default(fallback as Joi.BasicType);
  return { kind: 'setting', env, doc, schema: withDefault, read: (value) => (read ? read(value as T) : (value as T)) };
}

/** A variable that may be unset (undefined in the config object). */
export function optional<T>(env: string, doc: string, schema: Joi.Schema<T>): Setting<T | undefined>;
export function optional<T, R>(env: string, doc: string, schema: Joi.Schema<T>, read: (value: T) => R): Setting<R | undefined>;
export function optional<T, R>(env: string, doc: string, schema: Joi.Schema<T>, read?: (value: T) => R): Setting<T | R | undefined> {
  return { kind: 'setting', env, doc, schema, read: (value) => (value === undefined || !read ? (value as T | undefined) : read(value as T)) };
}

/**
 * Settings present together when the first of `required` is set (the others' rules must require them with it);
 * otherwise the whole group is undefined.
 */
export function group<S extends Settings, K extends keyof S & string>(required: [K, ...K[]], settings: S): Group<S, K> {
  return { kind: 'group', required, settings };
}

/** The typed object a declaration table reads into. */
export type ConfigOf<S> = {
  -readonly [F in keyof S]: S[F] extends Setting<infer T>
    ? T
    : S[F] extends Group<infer G, infer K>
      ? (Omit<ConfigOf<G>, K> & { [P in K]: NonNullable<ConfigOf<G>[P]> }) | undefined
      : ConfigOf<S[F]>;
};

function isSetting(entry: Settings[string]): entry is Setting<unknown> {
  return (entry as Setting<unknown>).kind === 'setting';
}

function isGroup(entry: Settings[string]): entry is Group<Settings, string> {
  return (entry as Group<Settings, string>).kind === 'group';
}

/** Every variable of a table, in declaration order; a variable declared twice is a programming error. */
export function variablesOf(table: Settings): Array<Setting<unknown>> {
  const all = Object.values(table).flatMap((entry) => (isSetting(entry) ? [entry] : variablesOf(isGroup(entry) ? entry.settings : entry)));
  const names = all.map((variable) => variable.env);
  const twice = names.filter((name, index) => names.indexOf(name) !== index);
  if (twice.length > 0) throw new Error(`Configuration variables declared twice: ${twice.join(', ')}`);
  return all;
}

/** The joi schema of the whole environment: one key per variable. */
export function schemaOf(table: Settings): Joi.ObjectSchema {
  return Joi.object(Object.fromEntries(variablesOf(table).map((variable) => [variable.env, variable.schema])));
}

/** Reads a validated environment into the table's shape. */
export function readTable<S extends Settings>(table: S, env: Env): ConfigOf<S> {
  const entries = Object.entries(table).map(([field, entry]) => {
    if (isSetting(entry)) return [field, entry.read(env[entry.env])];
    if (!isGroup(entry)) return [field, readTable(entry, env)];
    const present = env[(entry.settings[entry.required[0]] as Setting<unknown>).env] !== undefined;
    return [field, present ? readTable(entry.settings, env) : undefined];
  });
  return Object.fromEntries(entries) as ConfigOf<S>;
}

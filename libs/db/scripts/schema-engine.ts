// Prisma's schema engine compiled to WebAssembly (@prisma/schema-engine-wasm), driven
// over @prisma/adapter-pg, for machines where the native engine cannot be downloaded.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import pg from 'pg';

import { quoteIdentifier } from '../src/ensure-database.ts';

// The engine's schema describer reads pg_catalog columns of type "char" (oid 18) and
// "char"[] (oid 1002), which @prisma/adapter-pg 7.10 rejects as unsupported. Both come
// back from pg as text, so they are relabelled text (25) and text[] (1009).
const RELABELLED_TYPE_OIDS = new Map([
  [18, 25],
  [1002, 1009],
]);

type FieldsResult = { fields?: { dataTypeID: number }[] };

function relabelCharColumns<T>(result: T): T {
  for (const part of Array.isArray(result) ? result : [result]) {
    for (const field of (part as FieldsResult | undefined)?.fields ?? []) {
      field.dataTypeID = RELABELLED_TYPE_OIDS.get(field.dataTypeID) ?? field.dataTypeID;
    }
  }
  return result;
}

/** A pg.Client that reports "char" columns as text; used only for the schema engine's connections. */
class CharAsTextClient extends pg.Client {
  // pg calls query() with a callback from pool.query() and without one elsewhere.
  override query(config: unknown, values?: unknown, callback?: unknown): never {
    if (typeof values === 'function') [callback, values] = [values, undefined];
    const query = super.query as (...args: unknown[]) => unknown;
    if (typeof callback === 'function') {
      const done = callback as (err: Error | undefined, result: unknown) => void;
      return query.call(this, config, values, (err: Error | undefined, result: unknown) =>
        done(err, err ? result : relabelCharColumns(result)),
      ) as never;
    }
    return (query.call(this, config, values) as Promise<unknown>).then(relabelCharColumns) as never;
  }
}

/**
 * A driver adapter factory whose shadow database is a fresh database on the same
 * server, dropped when the engine disposes of it. The URL's user needs CREATEDB.
 */
export class ShadowDatabaseFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  private readonly pools: pg.Pool[] = [];

  constructor(private readonly serverUrl: string) {}

  async connect(): Promise<SqlDriverAdapter> {
    return (await this.adapterFor(this.serverUrl)).adapter;
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const name = `prisma_migrate_shadow_db_${randomUUID()}`;
    await this.runOnServer(`CREATE DATABASE ${quoteIdentifier(name)}`);
    const url = new URL(this.serverUrl);
    url.pathname = `/${name}`;
    const { adapter, pool } = await this.adapterFor(url.toString());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      // The database cannot be dropped while the pool still has connections to it.
      await this.endPool(pool);
      await this.runOnServer(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
    };
    return adapter;
  }

  /** Closes every pool this factory opened. */
  async close(): Promise<void> {
    await Promise.all(this.pools.splice(0).map((pool) => pool.end()));
  }

  private async adapterFor(url: string): Promise<{ adapter: SqlDriverAdapter; pool: pg.Pool }> {
    const pool = new pg.Pool({ connectionString: url, Client: CharAsTextClient, max: 2 });
    this.pools.push(pool);
    // @prisma/adapter-pg bundles its own @types/pg; at run time both name the same pg package.
    const factory = new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0]);
    return { adapter: await factory.connect(), pool };
  }

  private async endPool(pool: pg.Pool): Promise<void> {
    this.pools.splice(this.pools.indexOf(pool), 1);
    await pool.end();
  }

  private async runOnServer(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}

type SchemaEngineModule = typeof import('@prisma/schema-engine-wasm');

/**
 * Loads the WebAssembly schema engine. Instantiating the .wasm by hand, rather than
 * importing the package entry, avoids Node 20's --experimental-wasm-modules flag.
 */
export async function loadSchemaEngineModule(): Promise<SchemaEngineModule> {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@prisma/schema-engine-wasm'));
  const glue = await import(pathToFileURL(path.join(dir, 'schema_engine_bg.js')).href);
  const bytes = await readFile(path.join(dir, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue as SchemaEngineModule;
}

/** Starts a schema engine for `schema` (the text of schema.prisma) over `factory`. */
export async function startSchemaEngine(schema: string, factory: ShadowDatabaseFactory): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadSchemaEngineModule();
  const logEngineLine = (line: string) => {
    if (/"level":"(WARN|ERROR)"/.test(line)) process.stderr.write(`schema engine: ${line}\n`);
  };
  return SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, logEngineLine, bindMigrationAwareSqlAdapterFactory(factory));
}

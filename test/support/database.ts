import { randomBytes } from "node:crypto";
import pg from "pg";
import { bindRepositories, createDb, ensureDatabase, type Db, type Repositories } from "@nvarc/db";
import { TEST_DATABASE_SERVER } from "./env.ts";

export interface TestDatabase {
  url: string;
  db: Db;
  repos: Repositories;
  /** Runs SQL on a separate connection (outside the pool under test). */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** Creates database nvarc_it_<name> with an empty schema and the committed migrations applied. */
export async function freshTestDatabase(name: string, settings: Record<string, number> = {}): Promise<TestDatabase> {
  const url = new URL(TEST_DATABASE_SERVER);
  url.pathname = `/nvarc_it_${name}`;
  await ensureDatabase(url.toString());

  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");

  const db = await createDb({ url: url.toString(), settings });
  await db.migrate();
  return {
    url: url.toString(),
    db,
    repos: bindRepositories(db.prisma),
    query: async (sql, params) => (await admin.query(sql, params as any[])).rows,
    close: async () => {
      await db.close();
      await admin.end();
    },
  };
}

/** Returns a BullMQ key prefix no other test uses, so queues never mix between runs. */
export function uniqueQueuePrefix(name: string): string {
  return `nvarc-it-${name}-${randomBytes(4).toString("hex")}`;
}

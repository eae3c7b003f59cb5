// Creating the database a Postgres URL names, for tests and the CLI.
import pg from 'pg';

// SQLSTATE duplicate_database, and unique_violation on pg_database when two
// sessions create the same database at once.
const ALREADY_EXISTS_CODES = new Set(['42P04', '23505']);

/**
 * Creates the database named in `url` unless it exists, connecting to the `postgres`
 * database of the same server with the same credentials. Safe to call concurrently.
 * Returns true when this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`database URL ${redact(target)} names no database: add one after the host, for example /nvarc`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
    return true;
  } catch (error) {
    if (ALREADY_EXISTS_CODES.has((error as { code?: string }).code ?? '')) return false;
    throw error;
  } finally {
    await client.end();
  }
}

/** Quotes a Postgres identifier, doubling embedded quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function redact(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.password) copy.password = '***';
  return copy.toString();
}

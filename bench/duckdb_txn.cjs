// bench/lib.py's DuckDB row: node duckdb_txn.cjs NODE_API_DIR DB_FILE N
// A new DuckDB database file takes N small committed transactions (one
// INSERT each, autocommit: DuckDB writes and fsyncs its WAL per commit),
// then is closed (the checkpoint writes the database file).  Prints one JSON
// line: seconds from the first INSERT through the close, and the rows a
// fresh open then counts.
'use strict';
const { DuckDBInstance } = require(process.argv[2]);

const file = process.argv[3];
const n = Number(process.argv[4]);

(async () => {
  const db = await DuckDBInstance.create(file);
  const con = await db.connect();
  await con.run('create table t (k integer primary key, note varchar)');
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    await con.run(`insert into t values (${k}, 'row ${k} of a small transaction')`);
  }
  con.closeSync();
  db.closeSync();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  const again = await DuckDBInstance.create(file);
  const rcon = await again.connect();
  const rows = (await rcon.runAndReadAll('select count(*) as n, sum(k) as s from t')).getRowObjectsJson()[0];
  rcon.closeSync();
  again.closeSync();
  console.log(JSON.stringify({ seconds, rows: Number(rows.n), sum: Number(rows.s) }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

// DuckDB (npm @duckdb/node-api) as a client of a real mount; driven by
// test_duckdb.sh: node duckdb_client.cjs NODE_API_DIR MOUNT DOMAIN
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert/strict');
const { DuckDBInstance } = require(process.argv[2]);

const mount = process.argv[3];
const domain = process.argv[4];
const branch = path.join(mount, domain, 'main');
const N = 100000;

// One command through MOUNT/.control: one write, the answer by pread at 0.
// Returns [answer, errno code or null].
function control(line) {
  const fd = fs.openSync(path.join(mount, '.control'), 'r+');
  let failed = null;
  try {
    try {
      fs.writeSync(fd, line + '\n');
    } catch (e) {
      failed = e.code;
    }
    const chunks = [];
    const buf = Buffer.alloc(65536);
    let off = 0, n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, off)) > 0) {
      chunks.push(Buffer.from(buf.subarray(0, n)));
      off += n;
    }
    return [JSON.parse(Buffer.concat(chunks).toString('utf8')), failed];
  } finally {
    fs.closeSync(fd);
  }
}

function controlOk(line) {
  const [answer, failed] = control(line);
  assert.equal(failed, null, `${line}: ${JSON.stringify(answer)}`);
  assert.equal(answer.ok, true, line);
  return answer;
}

function q(p) {
  return "'" + p.replace(/'/g, "''") + "'";
}

async function one(con, sql) {
  const rows = (await con.runAndReadAll(sql)).getRowObjectsJson();
  assert.equal(rows.length, 1, sql);
  return rows[0];
}

async function expectStats(con, view, rows, what) {
  const csv = await one(con, `select count(*) as n, sum(amount) as s, max(id) as m
                              from read_csv(${q(view + '/orders.csv')})`);
  const pq = await one(con, `select count(*) as n, sum(amount) as s, max(id) as m
                             from read_parquet(${q(view + '/orders.parquet')})`);
  const want = { n: String(rows), s: rows * (rows - 1) / 4, m: String(rows - 1) };
  for (const [name, got] of [['csv', csv], ['parquet', pq]]) {
    assert.equal(String(got.n), want.n, `${what} ${name} row count`);
    assert.equal(Number(got.s), want.s, `${what} ${name} sum(amount)`);
    assert.equal(String(got.m), want.m, `${what} ${name} max(id)`);
  }
}

(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const gen = `select range as id, 'r' || (range % 7) as region, range * 0.5 as amount
               from range(${N})`;

  console.log('--- COPY TO csv, parquet and a partitioned parquet directory in the branch');
  await con.run(`copy (${gen}) to ${q(branch + '/orders.parquet')} (format parquet)`);
  await con.run(`copy (${gen}) to ${q(branch + '/orders.csv')} (header)`);
  await con.run(`copy (${gen}) to ${q(branch + '/by_region')} (format parquet, partition_by (region))`);
  await expectStats(con, branch, N, 'branch');
  assert.ok(fs.existsSync(path.join(branch, 'by_region', 'region=r3')), 'partition directory');

  console.log('--- commit through the control file');
  const c1 = controlOk(`commit ${domain}/main -m 'duckdb load' --meta tool=duckdb`);
  assert.match(c1.commit, /^[0-9a-f]{64}$/);

  console.log('--- rewrite the branch with 10 rows and commit again');
  await con.run(`copy (select * from (${gen}) where id < 10) to ${q(branch + '/orders.parquet')} (format parquet)`);
  await con.run(`copy (select * from (${gen}) where id < 10) to ${q(branch + '/orders.csv')} (header)`);
  await expectStats(con, branch, 10, 'rewritten branch');
  const c2 = controlOk(`commit ${domain}/main -m 'duckdb rewrite'`);
  assert.equal(c2.parent, c1.commit);

  console.log('--- the first commit reads back unchanged through its commit view');
  const view1 = path.join(mount, domain, c1.commit);
  await expectStats(con, view1, N, 'commit view');
  await expectStats(con, path.join(mount, domain, c1.commit.slice(0, 8)), N, 'commit prefix view');
  await expectStats(con, path.join(mount, domain, 'main~1'), N, 'main~1 view');
  const parts = (await con.runAndReadAll(
    `select region, count(*) as n, min(id) as lo from read_parquet(${q(view1 + '/by_region/*/*.parquet')},
       hive_partitioning = true) group by region order by region`)).getRowObjectsJson();
  assert.equal(parts.length, 7, 'seven partitions');
  for (let r = 0; r < 7; r++) {
    assert.equal(parts[r].region, 'r' + r);
    assert.equal(String(parts[r].n), String(Math.floor(N / 7) + (r < N % 7 ? 1 : 0)), `rows of r${r}`);
    assert.equal(String(parts[r].lo), String(r));
  }
  const joined = await one(con, `select count(*) as n from read_parquet(${q(view1 + '/orders.parquet')}) a
                                 join read_csv(${q(branch + '/orders.csv')}) b using (id)`);
  assert.equal(String(joined.n), '10', 'join of the commit view with the branch');
  await expectStats(con, path.join(mount, domain, c2.commit), 10, 'second commit view');

  console.log('--- a commit view is read-only for DuckDB too');
  await assert.rejects(con.run(`copy (select 1 as x) to ${q(view1 + '/x.parquet')} (format parquet)`),
    (e) => /Read-only file system/.test(String(e.message)),
    'COPY into a commit view');
  assert.ok(!fs.existsSync(path.join(view1, 'x.parquet')));

  console.log('--- a failed command: the write fails with its errno, the answer still reads');
  const [nothing, failed] = control(`commit ${domain}/main -m again`);
  assert.equal(failed, 'EINVAL');
  assert.equal(nothing.ok, false);
  assert.equal(nothing.error, 'EINVAL');
  assert.match(nothing.message, /nothing to commit/);
  const log = controlOk(`log ${domain}/main -n 2`);
  assert.deepEqual(log.commits.map((c) => c.id), [c2.commit, c1.commit]);
  assert.deepEqual(log.commits[1].meta, { tool: 'duckdb' });

  console.log('--- a DuckDB database file lives in the branch and is committed');
  const dbPath = path.join(branch, 'lake.duckdb');
  const fileDb = await DuckDBInstance.create(dbPath);
  const fcon = await fileDb.connect();
  await fcon.run(`create table orders as ${gen}`);
  await fcon.run(`checkpoint`);
  fcon.closeSync();
  fileDb.closeSync();
  const c3 = controlOk(`commit ${domain}/main -m 'duckdb database'`);
  const roDb = await DuckDBInstance.create(path.join(mount, domain, c3.commit, 'lake.duckdb'),
                                           { access_mode: 'READ_ONLY' });
  const rcon = await roDb.connect();
  const got = await one(rcon, `select count(*) as n, sum(amount) as s from orders`);
  assert.equal(String(got.n), String(N));
  assert.equal(Number(got.s), N * (N - 1) / 4);
  rcon.closeSync();
  roDb.closeSync();
  console.log('duckdb client ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

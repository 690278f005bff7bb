-- kitchen_sink.sql : one database holding every feature a faithful restore must reproduce
-- (issue 3, "Fidelity"). Restore it, compare it with the source using
-- tests/support/db_compare.hpp, and every difference is a fidelity bug.
--
--   createdb ks && psql -v dbname=ks -d ks -f tests/integration/sql/kitchen_sink.sql
--
-- Needs a superuser (roles, extensions, large objects with fixed oids) and postgresql-contrib
-- (hstore, citext). Roles ks_owner, ks_reader and ks_writer are created if missing (they are
-- cluster-wide and shared by all kitchen-sink databases). The database-level part (ALTER
-- DATABASE ... SET, role settings, comment, connection limit, grants, owner) lives in
-- kitchen_sink_database.sql, included at the end, so that a test can apply it alone to a copy
-- made with CREATE DATABASE ... TEMPLATE (which copies everything but those properties).
-- Every value here is fixed (no random(), no now()), so two loads are identical.
\set ON_ERROR_STOP on
\if :{?dbname}
\else
  \echo 'kitchen_sink.sql: pass -v dbname=<this database>'
  SELECT 1 / 0 AS "missing -v dbname";
\endif
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = postgres;
SET extra_float_digits = 3;

-- ============================================================ roles (cluster-wide, idempotent)
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ks_owner') THEN CREATE ROLE ks_owner LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ks_reader') THEN CREATE ROLE ks_reader LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ks_writer') THEN CREATE ROLE ks_writer NOLOGIN; END IF;
END $$;

-- ============================================================ extensions, schemas, types
CREATE EXTENSION hstore;
CREATE EXTENSION citext;

CREATE SCHEMA ks_app AUTHORIZATION ks_owner;
CREATE SCHEMA "Mixed Case Schema";
CREATE SCHEMA "select";                                   -- reserved word
CREATE SCHEMA "odd ""schema"".with.dots ü 🚀";            -- quotes, dots, spaces, unicode, emoji
COMMENT ON SCHEMA ks_app IS 'application schema of the kitchen sink';
GRANT USAGE ON SCHEMA ks_app TO ks_reader, ks_writer;

SET search_path = ks_app, public;

CREATE TYPE ks_app.mood AS ENUM ('sad', 'ok', 'happy', 'ünïcode label', 'with ''quote''');
ALTER TYPE ks_app.mood ADD VALUE 'meh' BEFORE 'ok';     -- enum value with a fractional sort order
CREATE DOMAIN ks_app.positive_int AS integer CHECK (VALUE > 0);
CREATE DOMAIN ks_app.email AS citext CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE DOMAIN ks_app.int_list AS integer[] CHECK (cardinality(VALUE) < 10);
CREATE TYPE ks_app.address AS (street text, city text, pin char(6), geo point);
CREATE TYPE ks_app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE ks_app.mood IS 'how the row feels';
CREATE COLLATION ks_app.german (provider = icu, locale = 'de-DE');
CREATE COLLATION ks_app.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

-- ============================================================ every built-in type family
CREATE TABLE ks_app.all_types (
  id int PRIMARY KEY,
  c_bool boolean, c_int2 smallint, c_int4 integer, c_int8 bigint,
  c_numeric numeric, c_numeric_p numeric(30,10), c_float4 real, c_float8 double precision,
  c_money money,
  c_char char(5), c_varchar varchar(20), c_text text, c_name name, c_qchar "char",
  c_bytea bytea,
  c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_ts0 timestamp(0), c_interval interval,
  c_bit bit(8), c_varbit varbit(64),
  c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml, c_tsvector tsvector, c_tsquery tsquery,
  c_point point, c_line line, c_lseg lseg, c_box box, c_path path, c_polygon polygon, c_circle circle,
  c_oid oid, c_regclass regclass, c_regproc regproc, c_regprocedure regprocedure, c_regtype regtype,
  c_regconfig regconfig, c_regnamespace regnamespace, c_regrole regrole,
  c_pg_lsn pg_lsn, c_snapshot pg_snapshot, c_tid tid, c_xid xid,
  c_int_arr int[], c_int_arr2 int[][], c_int_arr3 int[][][], c_text_arr text[], c_arr_lb int[],
  c_int4range int4range, c_int8range int8range, c_numrange numrange, c_tsrange tsrange, c_tstzrange tstzrange,
  c_daterange daterange, c_floatrange ks_app.floatrange,
  c_int4multirange int4multirange, c_datemultirange datemultirange, c_nummultirange nummultirange,
  c_mood ks_app.mood, c_mood_arr ks_app.mood[], c_positive ks_app.positive_int, c_email ks_app.email,
  c_int_list ks_app.int_list, c_address ks_app.address, c_address_arr ks_app.address[],
  c_hstore hstore, c_citext citext,
  c_text_c text COLLATE "C", c_text_de text COLLATE ks_app.german, c_text_ci text COLLATE ks_app.case_insensitive
);

-- row 1: ordinary values
INSERT INTO ks_app.all_types VALUES (
  1, true, 1, 2, 3, 123.456, 12345678901234567890.0123456789, 1.5, 2.25, 12.34,
  'ab', 'varchar', 'plain text', 'a_name', 'x', '\xdeadbeef',
  '2024-01-15', '13:45:00', '13:45:00+05:30', '2024-01-15 13:45:00.123456', '2024-01-15 13:45:00.123456+05:30',
  '2024-01-15 13:45:00.6', '1 year 2 mons 3 days 04:05:06.789',
  B'10101010', B'1', '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [1, 2.50, null], "a": "dup key kept in json"}',
  '{"b": 1, "a": [1, 2.50, null], "n": {"deep": {"deeper": true}}}', '<doc a="1">text &amp; more<e/></doc>',
  'a fat cat sat on a mat and ate a fat rat', 'fat & (rat | cat)',
  '(1.5,2.5)', '{1,2,3}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '<(0,0),5>',
  1234, 'pg_class', 'now', 'abs(integer)', 'integer', 'english', 'pg_catalog', 'ks_owner',
  '16/B374D848', '10:20:10,14,15', '(0,1)', '12345',
  '{1,2,3}', '{{1,2},{3,4}}', '{{{1,2},{3,4}},{{5,6},{7,8}}}', '{"a,b","c\"d",NULL,"NULL","", "é", "{}"}', '[0:2]={7,8,9}',
  '[1,10)', '[1,10000000000)', '[1.5,2.5]', '[2024-01-01 00:00,2024-02-01 00:00)', '[2024-01-01 00:00+00,infinity)',
  '[2024-01-01,2024-12-31]', '[1.5,3.25)',
  '{[1,3), [5,7)}', '{[2024-01-01,2024-02-01), [2024-03-01,2024-04-01)}', '{[1.5,2.5], (3,4)}',
  'happy', '{sad,meh,"ünïcode label"}', 7, 'Someone@Example.COM',
  '{1,2,3}', ROW('MG Road', 'Pune', '411001', '(18.5,73.8)'), ARRAY[ROW('a "quoted" street', 'Mumbai', '400001', NULL)::ks_app.address],
  '"a"=>"1", "b"=>NULL, "with space"=>"x=>y", "é"=>"ü"', 'MiXeD CaSe',
  'c collation', 'Straße', 'CaseLess'
);
-- row 2: the extremes
INSERT INTO ks_app.all_types (id, c_bool, c_int2, c_int4, c_int8, c_numeric, c_numeric_p, c_float4, c_float8, c_money,
  c_char, c_varchar, c_text, c_bytea, c_date, c_time, c_timetz, c_ts, c_tstz, c_interval, c_bit, c_varbit,
  c_inet, c_cidr, c_uuid, c_json, c_jsonb, c_xml, c_int_arr, c_text_arr, c_int4range, c_numrange, c_tsrange, c_daterange,
  c_int4multirange, c_hstore, c_oid, c_pg_lsn)
VALUES (2, false, -32768, -2147483648, -9223372036854775808, 'NaN', -0.0000000001, '-Infinity', 'Infinity',
  '-92233720368547758.08', '', '', '', '\x', '-infinity', '00:00:00', '00:00:00-15:59', '-infinity', '-infinity',
  '-178000000 years', B'00000000', B'', '::1', '::/0', '00000000-0000-0000-0000-000000000000', '[]', '{}', '',
  '{}', '{}', 'empty', '(,)', '(,)', '(,infinity]', '{}', '', 0, '0/0');
INSERT INTO ks_app.all_types (id, c_int2, c_int4, c_int8, c_numeric, c_float4, c_float8, c_money, c_date, c_time, c_timetz,
  c_ts, c_tstz, c_interval, c_inet, c_uuid, c_jsonb, c_oid, c_pg_lsn)
VALUES (3, 32767, 2147483647, 9223372036854775807, 'Infinity', 'NaN', 'NaN', '92233720368547758.07',
  'infinity', '24:00:00', '24:00:00+15:59', 'infinity', 'infinity', '178000000 years', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"big": 1e400, "small": 1e-400, "unicode": "\u00e9\ud83d\ude42"}', 4294967295,
  'FFFFFFFF/FFFFFFFF');
INSERT INTO ks_app.all_types (id, c_numeric, c_float4, c_float8, c_date, c_ts, c_tstz, c_interval)
VALUES (4, '-Infinity', '-0', '-0', '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '-1 days +02:03:04'),
       (5, '1e1000', '1e-45', '1e-310', '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '@ 1 minute ago'),
       (6, '-0.000000000000000000000000000001', '3.4028235e38', '1.7976931348623157e308', '0001-01-01 BC', '2000-02-29 12:00', '1999-12-31 23:59:59.5-12', '0'),
       (7, 0, '1.17549435e-38', '4.9e-324', '1970-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1 mon -1 day'),
       (8, 0.1, '0.1', '0.1', '2000-01-01', '2000-01-01', '2000-01-01 00:00+14', '-2147483648 days -2147483648 mons'),
       (9, 123456789012345678901234567890.123456789, '-3.4028235e38', '-2.2250738585072014e-308', '2024-02-29', '1900-01-01', '1900-01-01 00:00+05:53:28', '1.5 years');
-- row 10: bytea with all 256 byte values, plus text full of escaping traps
INSERT INTO ks_app.all_types (id, c_bytea, c_text, c_varchar, c_text_arr, c_json, c_jsonb, c_xml, c_hstore, c_citext)
SELECT 10, (SELECT decode(string_agg(lpad(to_hex(g), 2, '0'), '' ORDER BY g), 'hex') FROM generate_series(0, 255) g),
  E'tab\there\nnewline\r\ncrlf\rcr back\\slash \\N \\. ''quote'' "dq" \x01\x1f ü नमस्ते 🙂👍🏽 👨‍👩‍👧 \u00A0nbsp end',
  E'\\.', ARRAY[E'a\tb', E'c\nd', E'\\', E'\\.', '\N', ' '],
  E'{"s": "line\\nbreak \\u0000-free \\\\ \\"q\\" \\t"}', E'{"s": "line\\nbreak \\\\ \\"q\\" \\t 🙂"}',
  '<?xml version="1.0"?><root>ü &lt; 🙂</root>', E'"k\\"ey"=>"va\\\\lue", "ç"=>"\\n"', E'É\tΩ';
-- row 11: a multi-line value whose middle line is exactly \. (the COPY end marker)
INSERT INTO ks_app.all_types (id, c_text) VALUES (11, E'first line\n\\.\nlast line'), (12, E'\\.'), (13, E'\\.\n'), (14, NULL);
INSERT INTO ks_app.all_types (id, c_text, c_varchar) VALUES (15, '', ''), (16, 'NULL', '\N');
COMMENT ON TABLE ks_app.all_types IS 'one column per built-in type family';
COMMENT ON COLUMN ks_app.all_types.c_bytea IS 'row 10 holds all 256 byte values';

-- ============================================================ identifiers
CREATE TABLE "Mixed Case Schema"."Mixed Case Table" ("Id" int PRIMARY KEY, "Select" text, "from" int, "user" text,
  "first name" text, "say ""hi""" text, "a.b" text, "naïve_ünïcødé" text, "🙂" text, "per%cent" text, "back\slash" text);
INSERT INTO "Mixed Case Schema"."Mixed Case Table" VALUES
  (1, 'select', 1, 'user', 'Ada', 'hi', 'dot', 'ü', '🙂', '%', '\'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE "select"."table" ("column" int, "order" text, "group" text);
INSERT INTO "select"."table" VALUES (1, 'by', 'having'), (2, 'limit', 'offset');
CREATE TABLE "odd ""schema"".with.dots ü 🚀"."table.with ""dots"" and spaces 🙂" (id int, "value with space" text);
INSERT INTO "odd ""schema"".with.dots ü 🚀"."table.with ""dots"" and spaces 🙂" VALUES (1, 'odd'), (2, 'names');
CREATE TABLE ks_app.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk (x int);  -- 63 bytes
INSERT INTO ks_app.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk VALUES (63);
CREATE TABLE ks_app."UPPER" (x int);
CREATE TABLE ks_app.upper (x int);                        -- differs from "UPPER" only by case
INSERT INTO ks_app."UPPER" VALUES (1);
INSERT INTO ks_app.upper VALUES (2);
CREATE SEQUENCE "Mixed Case Schema"."Odd Seq ""1""";
SELECT setval('"Mixed Case Schema"."Odd Seq ""1"""', 5);

-- ============================================================ partitioning
-- range, with a list-sub-partitioned partition, a default partition and a default sub-partition
CREATE TABLE ks_app.events (id bigint NOT NULL, occurred date NOT NULL, region text NOT NULL, payload jsonb,
  PRIMARY KEY (id, occurred, region)) PARTITION BY RANGE (occurred);
CREATE TABLE ks_app.events_2023 PARTITION OF ks_app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ks_app.events_2024 PARTITION OF ks_app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
  PARTITION BY LIST (region);
CREATE TABLE ks_app.events_2024_north PARTITION OF ks_app.events_2024 FOR VALUES IN ('north', 'NORTH');
CREATE TABLE ks_app.events_2024_south PARTITION OF ks_app.events_2024 FOR VALUES IN ('south');
CREATE TABLE ks_app.events_2024_other PARTITION OF ks_app.events_2024 DEFAULT;
CREATE TABLE ks_app.events_default PARTITION OF ks_app.events DEFAULT;
-- a partition with its own column order and a dropped column, attached later
CREATE TABLE ks_app.events_2022 (junk int, payload jsonb, region text NOT NULL, occurred date NOT NULL, id bigint NOT NULL);
ALTER TABLE ks_app.events_2022 DROP COLUMN junk;
ALTER TABLE ks_app.events ATTACH PARTITION ks_app.events_2022 FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
INSERT INTO ks_app.events
SELECT g, date '2022-01-01' + (g * 7) % 1500, (ARRAY['north', 'south', 'east', 'NORTH'])[1 + g % 4], jsonb_build_object('g', g)
FROM generate_series(1, 400) g;
-- list
CREATE TABLE ks_app.orders_by_country (id int, country char(2), amount numeric(12,2)) PARTITION BY LIST (country);
CREATE TABLE ks_app.orders_in PARTITION OF ks_app.orders_by_country FOR VALUES IN ('IN');
CREATE TABLE ks_app.orders_us PARTITION OF ks_app.orders_by_country FOR VALUES IN ('US', NULL);
CREATE TABLE ks_app.orders_rest PARTITION OF ks_app.orders_by_country DEFAULT;
INSERT INTO ks_app.orders_by_country SELECT g, (ARRAY['IN', 'US', 'DE', NULL])[1 + g % 4], g * 1.25 FROM generate_series(1, 100) g;
-- hash
CREATE TABLE ks_app.sessions (id uuid, user_id int, started timestamptz) PARTITION BY HASH (user_id);
CREATE TABLE ks_app.sessions_0 PARTITION OF ks_app.sessions FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE ks_app.sessions_1 PARTITION OF ks_app.sessions FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE ks_app.sessions_2 PARTITION OF ks_app.sessions FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE ks_app.sessions_3 PARTITION OF ks_app.sessions FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO ks_app.sessions SELECT md5(g::text)::uuid, g % 37, timestamptz '2024-01-01' + g * interval '1 hour'
FROM generate_series(1, 200) g;
-- a partitioned table that is the target of a foreign key
CREATE TABLE ks_app.accounts (id int PRIMARY KEY, kind text NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE ks_app.accounts_low PARTITION OF ks_app.accounts FOR VALUES FROM (MINVALUE) TO (3);
CREATE TABLE ks_app.accounts_other PARTITION OF ks_app.accounts DEFAULT;
INSERT INTO ks_app.accounts VALUES (1, 'asset'), (2, 'liability'), (3, 'asset');

-- ============================================================ classic inheritance
CREATE TABLE ks_app.vehicles (id int, name text, wheels int DEFAULT 4);
CREATE TABLE ks_app.cars (seats int) INHERITS (ks_app.vehicles);
CREATE TABLE ks_app.sports_cars (top_speed int) INHERITS (ks_app.cars);
CREATE TABLE ks_app.boats (id int, name text, hull text);
CREATE TABLE ks_app.amphibians () INHERITS (ks_app.cars, ks_app.boats);      -- multiple inheritance
INSERT INTO ks_app.vehicles VALUES (1, 'generic vehicle', 4), (2, 'unicycle', 1);
INSERT INTO ks_app.cars VALUES (10, 'sedan', 4, 5), (11, 'coupe', 4, 2);
INSERT INTO ks_app.sports_cars VALUES (20, 'racer', 4, 2, 320);
INSERT INTO ks_app.boats VALUES (30, 'dinghy', 'wood');
INSERT INTO ks_app.amphibians VALUES (40, 'duck', 6, 12, 'steel');
-- a child whose parent has no rows, and a child with a column dropped from the parent later
CREATE TABLE ks_app.empty_parent (id int, note text, temp int);
CREATE TABLE ks_app.full_child (extra text) INHERITS (ks_app.empty_parent);
INSERT INTO ks_app.full_child VALUES (1, 'only the child has rows', 0, 'x');
ALTER TABLE ks_app.empty_parent DROP COLUMN temp;

-- ============================================================ table kinds
CREATE UNLOGGED TABLE ks_app.cache_entries (key text PRIMARY KEY, value bytea, expires timestamptz);
INSERT INTO ks_app.cache_entries SELECT 'k' || g, sha256(g::text::bytea), timestamptz '2030-01-01' + g * interval '1 s'
FROM generate_series(1, 50) g;
CREATE TABLE ks_app.no_columns ();
INSERT INTO ks_app.no_columns DEFAULT VALUES;
INSERT INTO ks_app.no_columns DEFAULT VALUES;
INSERT INTO ks_app.no_columns DEFAULT VALUES;
CREATE TABLE ks_app.all_columns_dropped (a int, b text);
INSERT INTO ks_app.all_columns_dropped VALUES (1, 'x'), (2, 'y');
ALTER TABLE ks_app.all_columns_dropped DROP COLUMN a, DROP COLUMN b;
CREATE TABLE ks_app.empty_table (id int PRIMARY KEY, note text);
CREATE TABLE ks_app.owned_by_other (id int, secret text);
ALTER TABLE ks_app.owned_by_other OWNER TO ks_owner;
INSERT INTO ks_app.owned_by_other VALUES (1, 'owned by ks_owner');

-- ============================================================ generated, identity, dropped/added columns
CREATE TABLE ks_app.line_items (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  qty numeric(10,3) NOT NULL, price numeric(12,2) NOT NULL,
  total numeric GENERATED ALWAYS AS (qty * price) STORED,
  label text GENERATED ALWAYS AS (upper(coalesce(note, '-'))) STORED,
  note text);
INSERT INTO ks_app.line_items (qty, price, note) SELECT g, g * 1.5, CASE WHEN g % 2 = 0 THEN 'even' END FROM generate_series(1, 20) g;
INSERT INTO ks_app.line_items (id, qty, price) OVERRIDING SYSTEM VALUE VALUES (1000, 1, 1);
CREATE TABLE ks_app.tickets (
  id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 5 MINVALUE 100 CACHE 3) PRIMARY KEY, subject text);
INSERT INTO ks_app.tickets (subject) SELECT 'ticket ' || g FROM generate_series(1, 7) g;
INSERT INTO ks_app.tickets VALUES (1, 'explicit id below the sequence'), (99999, 'explicit id above');
CREATE TABLE ks_app.evolving (a int, b text, c date, d numeric);
INSERT INTO ks_app.evolving VALUES (1, 'b1', '2024-01-01', 1.1), (2, 'b2', '2024-01-02', 2.2);
ALTER TABLE ks_app.evolving DROP COLUMN b;
ALTER TABLE ks_app.evolving ADD COLUMN e text DEFAULT 'fast default';    -- existing rows read attmissingval
ALTER TABLE ks_app.evolving ADD COLUMN f int;
INSERT INTO ks_app.evolving (a, c, d, e, f) VALUES (3, '2024-01-03', 3.3, 'explicit', 3);
ALTER TABLE ks_app.evolving DROP COLUMN d;
ALTER TABLE ks_app.evolving ADD COLUMN g timestamptz DEFAULT '2024-06-01 00:00+00';
ALTER TABLE ks_app.evolving ADD COLUMN b text;                           -- same name as the dropped one
INSERT INTO ks_app.evolving (a, c, e, f, b) VALUES (4, '2024-01-04', NULL, 4, 'new b');

-- ============================================================ sequences
CREATE SEQUENCE ks_app.seq_called;
SELECT setval('ks_app.seq_called', 42, true);
CREATE SEQUENCE ks_app.seq_not_called;
SELECT setval('ks_app.seq_not_called', 42, false);
CREATE SEQUENCE ks_app.seq_never_used START 1000;
CREATE SEQUENCE ks_app.seq_nextval INCREMENT 3;
SELECT nextval('ks_app.seq_nextval'), nextval('ks_app.seq_nextval');
CREATE SEQUENCE ks_app.seq_descending INCREMENT -1 MINVALUE -1000 MAXVALUE -1 START -1;
SELECT setval('ks_app.seq_descending', -500);
CREATE SEQUENCE ks_app.seq_cycle AS smallint MINVALUE 1 MAXVALUE 3 CYCLE;
SELECT nextval('ks_app.seq_cycle') FROM generate_series(1, 4);
CREATE SEQUENCE ks_app.seq_big AS bigint;
SELECT setval('ks_app.seq_big', 9223372036854775806);
CREATE TABLE ks_app.serials (id serial PRIMARY KEY, big bigserial, note text);
INSERT INTO ks_app.serials (note) VALUES ('one'), ('two'), ('three');
CREATE UNLOGGED SEQUENCE ks_app.seq_unlogged;
SELECT setval('ks_app.seq_unlogged', 7);

-- ============================================================ very large values (TOAST)
CREATE TABLE ks_app.big_values (id int PRIMARY KEY, payload text, blob bytea);
-- ~20 MB of hex text (compresses only about 2x, so it is stored out of line in many chunks)
INSERT INTO ks_app.big_values SELECT 1, string_agg(md5(g::text), '' ORDER BY g), NULL FROM generate_series(1, 655360) g;
-- ~4 MB of bytea and a 1 MB highly compressible text
INSERT INTO ks_app.big_values
SELECT 2, repeat('compressible line ' || E'\n', 55000), decode(string_agg(md5(g::text), '' ORDER BY g), 'hex')
FROM generate_series(1, 262144) g;

-- ============================================================ large objects
SELECT lo_from_bytea(900001, 'plain large object'::bytea);
SELECT lo_from_bytea(900002, (SELECT decode(string_agg(lpad(to_hex(g % 256), 2, '0'), '' ORDER BY g), 'hex')
                              FROM generate_series(0, 300000) g));
SELECT lo_from_bytea(900003, '');                          -- empty
SELECT lo_from_bytea(900004, convert_to(E'ü 🙂\n\\.\n', 'UTF8'));
ALTER LARGE OBJECT 900002 OWNER TO ks_owner;
ALTER LARGE OBJECT 900004 OWNER TO ks_owner;
GRANT SELECT ON LARGE OBJECT 900002 TO ks_reader;
GRANT SELECT, UPDATE ON LARGE OBJECT 900004 TO ks_writer;
COMMENT ON LARGE OBJECT 900001 IS 'first';
COMMENT ON LARGE OBJECT 900002 IS 'all byte values, owned by ks_owner';
CREATE TABLE ks_app.documents (id int PRIMARY KEY, name text, content oid);
INSERT INTO ks_app.documents VALUES (1, 'plain', 900001), (2, 'bytes', 900002), (3, 'empty', 900003);

-- ============================================================ row-level security
CREATE TABLE ks_app.secrets (id int PRIMARY KEY, owner_role text NOT NULL, visible boolean NOT NULL, body text);
INSERT INTO ks_app.secrets SELECT g, CASE WHEN g % 2 = 0 THEN 'ks_reader' ELSE 'ks_owner' END, g % 3 = 0, 'secret ' || g
FROM generate_series(1, 30) g;
ALTER TABLE ks_app.secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY secrets_visible ON ks_app.secrets FOR SELECT TO ks_reader USING (visible);
CREATE POLICY secrets_writer ON ks_app.secrets FOR ALL TO ks_writer USING (owner_role = current_user) WITH CHECK (false);
GRANT SELECT ON ks_app.secrets TO ks_reader;
-- FORCE: even the table's owner sees only its own tenant's rows
CREATE TABLE ks_app.tenant_data (id int PRIMARY KEY, tenant text NOT NULL, data text);
INSERT INTO ks_app.tenant_data SELECT g, (ARRAY['ks_owner', 'ks_reader', 'other'])[1 + g % 3], 'row ' || g FROM generate_series(1, 30) g;
ALTER TABLE ks_app.tenant_data OWNER TO ks_owner;
ALTER TABLE ks_app.tenant_data ENABLE ROW LEVEL SECURITY;
ALTER TABLE ks_app.tenant_data FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ks_app.tenant_data USING (tenant = current_user);
CREATE POLICY tenant_restrictive ON ks_app.tenant_data AS RESTRICTIVE USING (id > 0);

-- ============================================================ triggers and rules that must not fire during a load
CREATE TABLE ks_app.audit_trail (id bigserial PRIMARY KEY, tbl text, op text, row_data text);
CREATE FUNCTION ks_app.reject_changes() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'table % is frozen: % rejected', TG_TABLE_NAME, TG_OP; END $$;
CREATE FUNCTION ks_app.shout() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.name := upper(NEW.name) || ' (changed by trigger)'; NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE FUNCTION ks_app.log_change() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO ks_app.audit_trail (tbl, op, row_data) VALUES (TG_TABLE_NAME, TG_OP, NEW::text); RETURN NULL; END $$;
CREATE TABLE ks_app.frozen_ledger (id int PRIMARY KEY, amount numeric(12,2));
INSERT INTO ks_app.frozen_ledger SELECT g, g * 100 FROM generate_series(1, 10) g;
CREATE TRIGGER frozen BEFORE INSERT OR UPDATE OR DELETE ON ks_app.frozen_ledger FOR EACH ROW EXECUTE FUNCTION ks_app.reject_changes();
CREATE TABLE ks_app.customers (id int PRIMARY KEY, name text, touched int DEFAULT 0);
INSERT INTO ks_app.customers SELECT g, 'customer ' || g, 0 FROM generate_series(1, 10) g;
CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON ks_app.customers FOR EACH ROW EXECUTE FUNCTION ks_app.shout();
CREATE TRIGGER log_insert AFTER INSERT ON ks_app.customers FOR EACH ROW EXECUTE FUNCTION ks_app.log_change();
CREATE TRIGGER log_statement AFTER INSERT ON ks_app.customers REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION ks_app.log_change();
CREATE TRIGGER disabled_trigger BEFORE UPDATE ON ks_app.customers FOR EACH ROW EXECUTE FUNCTION ks_app.reject_changes();
ALTER TABLE ks_app.customers DISABLE TRIGGER disabled_trigger;
CREATE TRIGGER replica_trigger BEFORE DELETE ON ks_app.customers FOR EACH ROW EXECUTE FUNCTION ks_app.reject_changes();
ALTER TABLE ks_app.customers ENABLE REPLICA TRIGGER replica_trigger;
-- on the partitioned table too (cloned onto every partition)
CREATE TRIGGER events_frozen BEFORE INSERT ON ks_app.events FOR EACH ROW EXECUTE FUNCTION ks_app.reject_changes();
CREATE TABLE ks_app.ruled (id int, note text);
INSERT INTO ks_app.ruled VALUES (1, 'row before the rule');
CREATE RULE ruled_nothing AS ON INSERT TO ks_app.ruled DO INSTEAD NOTHING;
CREATE RULE ruled_no_delete AS ON DELETE TO ks_app.ruled DO INSTEAD
  INSERT INTO ks_app.audit_trail (tbl, op, row_data) VALUES ('ruled', 'blocked delete', OLD::text);

-- ============================================================ constraints
-- circular, deferrable foreign keys
CREATE TABLE ks_app.departments (id int PRIMARY KEY, name text, head_id int);
CREATE TABLE ks_app.employees (id int PRIMARY KEY, name text, dept_id int NOT NULL, manager_id int REFERENCES ks_app.employees (id));
BEGIN;
ALTER TABLE ks_app.departments ADD CONSTRAINT departments_head_fk FOREIGN KEY (head_id) REFERENCES ks_app.employees (id)
  DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE ks_app.employees ADD CONSTRAINT employees_dept_fk FOREIGN KEY (dept_id) REFERENCES ks_app.departments (id)
  DEFERRABLE INITIALLY IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO ks_app.departments VALUES (1, 'Accounts', 100), (2, 'Sales', 200);
INSERT INTO ks_app.employees VALUES (100, 'Asha', 1, NULL), (200, 'Ravi', 2, 100), (201, 'Meena', 2, 200);
COMMIT;
-- composite key, ON DELETE CASCADE / SET NULL, FK to a partitioned table
CREATE TABLE ks_app.order_headers (order_no int, fy text, PRIMARY KEY (order_no, fy));
CREATE TABLE ks_app.order_lines (order_no int, fy text, line int, account_id int REFERENCES ks_app.accounts (id) ON DELETE SET NULL,
  PRIMARY KEY (order_no, fy, line),
  FOREIGN KEY (order_no, fy) REFERENCES ks_app.order_headers ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO ks_app.order_headers VALUES (1, '2024-25'), (2, '2024-25');
INSERT INTO ks_app.order_lines VALUES (1, '2024-25', 1, 1), (1, '2024-25', 2, 3), (2, '2024-25', 1, NULL);
-- NOT VALID constraints over rows that violate them: they must stay NOT VALID
CREATE TABLE ks_app.legacy (id int PRIMARY KEY, amount numeric, ref_id int);
INSERT INTO ks_app.legacy VALUES (1, -5, 999), (2, 10, 1);
ALTER TABLE ks_app.legacy ADD CONSTRAINT legacy_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE ks_app.legacy ADD CONSTRAINT legacy_ref_fk FOREIGN KEY (ref_id) REFERENCES ks_app.legacy (id) NOT VALID;
-- unique / exclusion / partial / expression / other index kinds, NULLS NOT DISTINCT (15)
CREATE TABLE ks_app.bookings (id int PRIMARY KEY, room int NOT NULL, during tstzrange NOT NULL, code text,
  EXCLUDE USING gist (during WITH &&), UNIQUE NULLS NOT DISTINCT (code));
INSERT INTO ks_app.bookings VALUES (1, 101, '[2024-01-01,2024-01-05)', 'A'), (2, 102, '[2024-01-05,2024-01-07)', NULL);
CREATE INDEX all_types_jsonb_gin ON ks_app.all_types USING gin (c_jsonb jsonb_path_ops);
CREATE INDEX all_types_tsv ON ks_app.all_types USING gin (c_tsvector);
CREATE INDEX all_types_lower_text ON ks_app.all_types (lower(c_text)) WHERE c_text IS NOT NULL;
CREATE INDEX all_types_brin ON ks_app.all_types USING brin (c_date);
CREATE INDEX all_types_hash ON ks_app.all_types USING hash (c_uuid);
CREATE INDEX all_types_range ON ks_app.all_types USING gist (c_int4range);
CREATE INDEX all_types_incl ON ks_app.all_types (c_int4) INCLUDE (c_text);
CREATE STATISTICS ks_app.all_types_stats (dependencies, ndistinct) ON c_int2, c_int4 FROM ks_app.all_types;
ALTER TABLE ks_app.all_types CLUSTER ON all_types_pkey;
ALTER TABLE ks_app.all_types ALTER COLUMN c_text SET STATISTICS 500;
ALTER TABLE ks_app.all_types ALTER COLUMN c_bytea SET STORAGE EXTERNAL;
ALTER TABLE ks_app.big_values SET (fillfactor = 70, autovacuum_enabled = false);
COMMENT ON INDEX ks_app.all_types_brin IS 'a brin index';
COMMENT ON CONSTRAINT legacy_amount_positive ON ks_app.legacy IS 'added NOT VALID over old data';

-- ============================================================ views, materialized views, functions
CREATE VIEW ks_app.active_customers AS SELECT id, name FROM ks_app.customers WHERE touched >= 0;
CREATE VIEW ks_app.checked_orders WITH (security_barrier) AS
  SELECT * FROM ks_app.orders_by_country WHERE amount > 10 WITH CASCADED CHECK OPTION;
CREATE VIEW ks_app.invoker_view WITH (security_invoker = true) AS SELECT id, visible FROM ks_app.secrets;
CREATE RECURSIVE VIEW ks_app.countdown (n) AS SELECT 5 UNION ALL SELECT n - 1 FROM countdown WHERE n > 0;
CREATE MATERIALIZED VIEW ks_app.mv_country_totals AS
  SELECT country, count(*) AS n, sum(amount) AS total FROM ks_app.orders_by_country GROUP BY country;
CREATE UNIQUE INDEX mv_country_totals_country ON ks_app.mv_country_totals (country);
CREATE MATERIALIZED VIEW ks_app.mv_not_populated AS SELECT id, name FROM ks_app.customers WITH NO DATA;
CREATE MATERIALIZED VIEW ks_app.mv_dependent AS SELECT sum(n) AS all_orders FROM ks_app.mv_country_totals;
-- owned by another role: its refresh runs as ks_owner, which therefore needs to read its source
ALTER MATERIALIZED VIEW ks_app.mv_dependent OWNER TO ks_owner;
GRANT SELECT ON ks_app.mv_country_totals TO ks_owner;
CREATE FUNCTION ks_app.add_tax(amount numeric, rate numeric DEFAULT 0.18) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(amount * (1 + rate), 2) $$;
CREATE FUNCTION ks_app.customer_count() RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = ks_app, pg_temp AS $$ BEGIN RETURN (SELECT count(*) FROM customers); END $$;
CREATE PROCEDURE ks_app.touch_customer(p_id int) LANGUAGE sql AS $$ UPDATE ks_app.customers SET touched = touched + 1 WHERE id = p_id $$;
CREATE FUNCTION ks_app.sum_state(acc numeric, x numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT acc + coalesce(x, 0) $$;
CREATE AGGREGATE ks_app.null_safe_sum(numeric) (SFUNC = ks_app.sum_state, STYPE = numeric, INITCOND = '0');
CREATE FUNCTION "Mixed Case Schema"."Odd Function ""x"""(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 * 2 $$;
COMMENT ON FUNCTION ks_app.add_tax(numeric, numeric) IS 'GST-inclusive amount';
COMMENT ON VIEW ks_app.active_customers IS 'customers currently active';
COMMENT ON MATERIALIZED VIEW ks_app.mv_not_populated IS 'created WITH NO DATA on purpose';
COMMENT ON COLUMN "Mixed Case Schema"."Mixed Case Table"."say ""hi""" IS 'comment on an odd column';
-- a table using a function-based default and check
CREATE TABLE ks_app.priced (id int PRIMARY KEY, amount numeric, gross numeric DEFAULT ks_app.add_tax(100),
  CHECK (ks_app.add_tax(amount) >= amount));
INSERT INTO ks_app.priced (id, amount) VALUES (1, 10), (2, 20);

-- ============================================================ beyond tables: publications, event triggers,
-- foreign data, a table access method, text search, contrib and reg* column types, operators
\ir catalog_objects.sql
SET search_path = ks_app, public;

-- ============================================================ grants and default privileges
GRANT SELECT ON ALL TABLES IN SCHEMA ks_app TO ks_reader;
GRANT INSERT, UPDATE (name) ON ks_app.customers TO ks_writer;
GRANT SELECT (id, kind) ON ks_app.accounts TO ks_writer;
GRANT USAGE, SELECT ON SEQUENCE ks_app.seq_called TO ks_writer;
REVOKE EXECUTE ON FUNCTION ks_app.customer_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ks_app.customer_count() TO ks_reader;
GRANT ALL ON SCHEMA "Mixed Case Schema" TO ks_writer WITH GRANT OPTION;
GRANT USAGE ON TYPE ks_app.mood TO ks_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA ks_app GRANT SELECT ON TABLES TO ks_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE ks_owner IN SCHEMA ks_app GRANT SELECT, INSERT ON TABLES TO ks_writer;

-- ============================================================ every table shape (issue 7)
-- Inheritance children with their own column order, multiple inheritance, dropped columns,
-- typed tables, partitions with their own order: in a schema of their own.
CREATE SCHEMA ks_shapes;
SET search_path = ks_shapes;
\ir table_shapes.sql
SET search_path = ks_app, public;

-- ============================================================ the database itself
\ir kitchen_sink_database.sql
ANALYZE;

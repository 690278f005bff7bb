-- catalog_objects.sql : what pg_dump keeps besides tables and their rows, and the column types of
-- postgresql-contrib and the catalog, included by kitchen_sink.sql (after its functions, which
-- the reg* columns below name). Everything lives in schema ks_cat. Values are fixed, like the rest
-- of the kitchen sink.

CREATE EXTENSION pg_trgm;
CREATE EXTENSION btree_gist;
CREATE EXTENSION ltree;
CREATE EXTENSION cube;
CREATE EXTENSION isn;
CREATE EXTENSION unaccent;
CREATE EXTENSION postgres_fdw;
CREATE EXTENSION file_fdw;
CREATE SCHEMA ks_cat;
CREATE TABLE public.ks_public (id int);

-- ============================================================ contrib and catalog column types
-- reg* values are stored as OIDs and written as names: a restore must resolve them again, in a
-- new database whose OIDs differ (and whatever search_path the restore's sessions have).
CREATE TABLE ks_cat.typed_values (
  id int PRIMARY KEY, name text NOT NULL, path ltree, box3 cube, isbn isbn13, words tsvector, query tsquery,
  ranges int4multirange, lsn pg_lsn, snapshot txid_snapshot, full_xid xid8, mac8 macaddr8, bits bit varying(20),
  tz_time timetz, rel regclass, proc regprocedure, typ regtype, cfg regconfig, vec int2vector, oids oidvector);
INSERT INTO ks_cat.typed_values
SELECT g, 'item ' || g || repeat('x', g % 50), ('top.branch_' || g % 7 || '.leaf_' || g)::ltree, cube(g, g + 0.5),
       '978-0-306-40615-7', to_tsvector('english', 'the quick brown fox jumps ' || g), 'fat & (rat | cat)',
       int4multirange(int4range(1, g + 2), int4range(g + 10, g + 20)), ('0/' || to_hex(g * 4096))::pg_lsn,
       '10:20:10,14,15', (1000 + g)::text::xid8, '08:00:2b:01:02:03:04:05', B'10101', '10:00+05:30',
       'ks_app.customers'::regclass, 'ks_app.add_tax(numeric,numeric)'::regprocedure, 'ks_app.mood'::regtype,
       'english'::regconfig, '1 2 3'::int2vector, '1 2 3'::oidvector
FROM generate_series(1, 500) g;
INSERT INTO ks_cat.typed_values (id, name, rel, typ) VALUES (0, 'a public table and type', 'public.ks_public'::regclass,
  'public.hstore'::regtype);
CREATE INDEX typed_values_trgm_gist ON ks_cat.typed_values USING gist (name gist_trgm_ops);
CREATE INDEX typed_values_trgm_gin ON ks_cat.typed_values USING gin (name gin_trgm_ops);
CREATE INDEX typed_values_path ON ks_cat.typed_values USING gist (path);
CREATE INDEX typed_values_cube ON ks_cat.typed_values USING gist (box3);
-- replica identity, column storage, compression and statistics targets, storage parameters
ALTER TABLE ks_cat.typed_values REPLICA IDENTITY FULL;
ALTER TABLE ks_cat.typed_values ALTER COLUMN name SET STORAGE EXTERNAL, ALTER COLUMN name SET STATISTICS 500,
  ALTER COLUMN name SET COMPRESSION pglz, ALTER COLUMN path SET (n_distinct = -0.5);
ALTER TABLE ks_cat.typed_values SET (autovacuum_vacuum_scale_factor = 0.01, toast_tuple_target = 256);
CREATE TABLE ks_cat.keyed_by_index (id int NOT NULL, v text);
CREATE UNIQUE INDEX keyed_by_index_id ON ks_cat.keyed_by_index (id);
ALTER TABLE ks_cat.keyed_by_index REPLICA IDENTITY USING INDEX keyed_by_index_id;
INSERT INTO ks_cat.keyed_by_index VALUES (1, 'a'), (2, E'tab\there'), (3, E'back\\slash'), (4, NULL), (5, '');
-- an exclusion constraint mixing a scalar (btree_gist) and a range
CREATE TABLE ks_cat.room_bookings (room int NOT NULL, during tsrange NOT NULL,
  EXCLUDE USING gist (room WITH =, during WITH &&));
INSERT INTO ks_cat.room_bookings VALUES (1, '[2024-01-01,2024-01-02)'), (1, '[2024-01-02,2024-01-03)'),
  (2, '[2024-01-01,2024-01-03)');

-- ============================================================ a table access method of its own
CREATE ACCESS METHOD ks_heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE TABLE ks_cat.other_am (id int PRIMARY KEY, v text) USING ks_heap2;
INSERT INTO ks_cat.other_am SELECT g, md5(g::text) FROM generate_series(1, 300) g;

-- ============================================================ text search
CREATE TEXT SEARCH DICTIONARY ks_cat.unaccented (TEMPLATE = unaccent, RULES = 'unaccent');
CREATE TEXT SEARCH CONFIGURATION ks_cat.plain_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION ks_cat.plain_english
  ALTER MAPPING FOR hword, hword_part, word WITH ks_cat.unaccented, english_stem;
CREATE TABLE ks_cat.notes (id int PRIMARY KEY, body text,
  words tsvector GENERATED ALWAYS AS (to_tsvector('ks_cat.plain_english', body)) STORED);
INSERT INTO ks_cat.notes (id, body) VALUES (1, 'Crème brûlée à la carte'), (2, 'naïve café'), (3, NULL);
CREATE INDEX notes_words ON ks_cat.notes USING gin (words);

-- ============================================================ publications
-- Publishing inserts and truncates only: a publication that publishes updates makes every
-- UPDATE and DELETE fail on a table without a replica identity, in the source and the restore.
SET client_min_messages = error;  -- "wal_level is insufficient to publish logical changes"
CREATE PUBLICATION ks_all FOR ALL TABLES WITH (publish = 'insert, truncate');
CREATE PUBLICATION ks_filtered FOR TABLE ks_cat.notes (id, body) WHERE (id > 1), ks_cat.keyed_by_index;
CREATE PUBLICATION ks_whole_schema FOR TABLES IN SCHEMA ks_cat WITH (publish = 'insert', publish_via_partition_root = true);
SET client_min_messages = warning;

-- ============================================================ event triggers
-- Enabled, and writing a row when a table is created: it must exist after a restore, and must
-- not have fired during it (pg_restore creates event triggers last).
CREATE TABLE ks_cat.ddl_log (id serial PRIMARY KEY, tag text NOT NULL);
CREATE FUNCTION ks_cat.log_create() RETURNS event_trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO ks_cat.ddl_log (tag) VALUES (tg_tag); END $$;
CREATE EVENT TRIGGER ks_log_create ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS')
  EXECUTE FUNCTION ks_cat.log_create();
CREATE FUNCTION ks_cat.forbid_drops() RETURNS event_trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'drops are forbidden'; END $$;
CREATE EVENT TRIGGER ks_forbid_drops ON sql_drop EXECUTE FUNCTION ks_cat.forbid_drops();
ALTER EVENT TRIGGER ks_forbid_drops DISABLE;

-- ============================================================ foreign data
-- Never read: neither the backup nor the comparison reads a foreign table's rows (pg_dump
-- does not either, without --include-foreign-data).
CREATE SERVER ks_elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '1', dbname 'nowhere');
CREATE USER MAPPING FOR PUBLIC SERVER ks_elsewhere OPTIONS (user 'reporting', password 'not-a-real-password');
CREATE FOREIGN TABLE ks_cat.remote_orders (id int, amount numeric(12,2)) SERVER ks_elsewhere
  OPTIONS (schema_name 'public', table_name 'orders');
ALTER FOREIGN TABLE ks_cat.remote_orders ALTER COLUMN amount OPTIONS (column_name 'total');
CREATE SERVER ks_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE ks_cat.host_file (line text) SERVER ks_files OPTIONS (filename '/etc/hostname');
CREATE VIEW ks_cat.remote_totals AS SELECT count(*) AS n, sum(amount) AS total FROM ks_cat.remote_orders;

-- ============================================================ operators, casts, aggregates
CREATE FUNCTION ks_cat.add3(int, int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 + $2 + 3';
CREATE OPERATOR ks_cat.### (LEFTARG = int, RIGHTARG = int, FUNCTION = ks_cat.add3, COMMUTATOR = OPERATOR(ks_cat.###));
CREATE TYPE ks_cat.pair AS (a int, b text);
CREATE FUNCTION ks_cat.pair_text(ks_cat.pair) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1.b';
CREATE CAST (ks_cat.pair AS text) WITH FUNCTION ks_cat.pair_text(ks_cat.pair);
CREATE AGGREGATE ks_cat.product(numeric) (SFUNC = numeric_mul, STYPE = numeric, INITCOND = '1', PARALLEL = SAFE);
CREATE TABLE ks_cat.uses_operator (a int, b int, total int GENERATED ALWAYS AS (a OPERATOR(ks_cat.###) b) STORED);
INSERT INTO ks_cat.uses_operator (a, b) VALUES (1, 2), (40, 2);

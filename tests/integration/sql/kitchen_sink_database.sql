-- kitchen_sink_database.sql : the database-level properties of the kitchen sink.
-- Included by kitchen_sink.sql; also run on its own (psql -v dbname=COPY -d COPY -f ...) to give
-- a CREATE DATABASE ... TEMPLATE copy the properties that a template copy does not carry.
-- Settings chosen to trap a restore that lets a database's defaults change its bytes: a
-- DateStyle that swaps day and month, a non-UTC time zone, few float digits, escaped bytea.
\set ON_ERROR_STOP on
ALTER DATABASE :"dbname" SET DateStyle = 'SQL, DMY';
ALTER DATABASE :"dbname" SET TimeZone = 'Asia/Kolkata';
ALTER DATABASE :"dbname" SET extra_float_digits = 0;
ALTER DATABASE :"dbname" SET bytea_output = 'escape';
ALTER DATABASE :"dbname" SET IntervalStyle = 'sql_standard';
ALTER DATABASE :"dbname" SET search_path = ks_app, public;
ALTER ROLE ks_reader IN DATABASE :"dbname" SET work_mem = '16MB';
ALTER ROLE ks_owner IN DATABASE :"dbname" SET statement_timeout = '5min';
ALTER ROLE ks_owner IN DATABASE :"dbname" SET DateStyle = 'German';
COMMENT ON DATABASE :"dbname" IS 'kitchen sink: every feature a restore must keep';
ALTER DATABASE :"dbname" CONNECTION LIMIT 50;
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO ks_reader, ks_writer;
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO ks_owner;
GRANT CREATE ON DATABASE :"dbname" TO ks_owner WITH GRANT OPTION;
ALTER DATABASE :"dbname" OWNER TO ks_owner;

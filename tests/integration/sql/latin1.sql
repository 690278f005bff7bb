-- latin1.sql : a small database in a non-UTF-8 encoding (issue 3: "encoding (also non-UTF-8)").
-- Create the database first, then load this file (psql converts from its UTF-8 source text):
--   CREATE DATABASE l1 TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C';
--   psql -v dbname=l1 -d l1 -f tests/integration/sql/latin1.sql
-- Every character used exists in LATIN1, including the upper half (0xA0-0xFF), which has
-- different bytes in UTF-8: a restore that loads it through the wrong client_encoding either
-- fails or changes it.
\set ON_ERROR_STOP on
SET client_encoding = 'UTF8';
CREATE SCHEMA "schéma";
CREATE TABLE "schéma"."tâble" (id int PRIMARY KEY, "nöm" text, note varchar(40), letter "char");
INSERT INTO "schéma"."tâble" VALUES
  (1, 'Crème brûlée à la française', 'ÀÉÎÕÜ àéîõü ÿ', 'é'),
  (2, 'Straße · 1½ × 3¼ ÷ ±0 ©®°µ¶', E'tab\tand\nnewline \\. ß', 'ß'),
  (3, '', NULL, NULL);
-- every LATIN1 character from 0x20 to 0xFF except DEL and the C1 controls, as one value
INSERT INTO "schéma"."tâble" (id, "nöm")
SELECT 4, string_agg(chr(c), '' ORDER BY c) FROM generate_series(32, 255) c WHERE c < 127 OR c >= 160;
CREATE SEQUENCE "schéma"."séquence";
SELECT setval('"schéma"."séquence"', 12);
COMMENT ON TABLE "schéma"."tâble" IS 'commentaire accentué';
COMMENT ON DATABASE :"dbname" IS 'base de données en LATIN1 : éàü';
ALTER DATABASE :"dbname" SET DateStyle = 'SQL, DMY';

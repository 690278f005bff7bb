// Column layouts and rebuilt-table definitions (issue 7): the INHERITS order, layout
// comparison, SQL statement splitting and the filtering of pg_dump --binary-upgrade output.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pg/rebuilt_tables.hpp"
#include "pg/table_layout.hpp"

namespace table_layout_test {  // this file's names, apart from its unity batch's

using namespace dhanbak::pg;

TEST_CASE("InheritsColumnOrder: parents' columns merged in order, then the child's own") {
  CHECK(InheritsColumnOrder({{"a", "b", "c"}}, {"x", "y", "a", "b", "c"}) ==
        std::vector<std::string>{"a", "b", "c", "x", "y"});
  CHECK(InheritsColumnOrder({{"a", "b"}, {"m", "a"}}, {"m", "a", "b", "own"}) ==
        std::vector<std::string>{"a", "b", "m", "own"});
  CHECK(InheritsColumnOrder({{"a", "b"}}, {"a", "b", "z"}) == std::vector<std::string>{"a", "b", "z"});
  CHECK(InheritsColumnOrder({{}}, {}).empty());
}

TEST_CASE("CompareLayout names the table, the column position and both sides") {
  CHECK_FALSE(CompareLayout("public.t", {"a integer", "b text"}, {"a integer", "b text"}));
  auto diff = CompareLayout("public.t", {"x integer local inherited=0", "a integer"}, {"a integer", "x integer"});
  REQUIRE(diff);
  CHECK(diff->find("column 1 of table public.t") != std::string::npos);
  CHECK(diff->find("x integer local inherited=0") != std::string::npos);
  auto missing = CompareLayout("public.t", {"a integer", "b text"}, {"a integer"});
  REQUIRE(missing);
  CHECK(missing->find("<none>") != std::string::npos);
}

TEST_CASE("SplitSqlStatements respects quotes, dollar quotes, comments and meta-commands") {
  auto s = SplitSqlStatements(
      "-- a comment; not a statement\n"
      "\\restrict abc\n"
      "CREATE TABLE t (a text DEFAULT 'x;y''z', \"we;ird\" int);\n"
      "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n"
      "SELECT E'it\\'s;';\n");
  REQUIRE(s.size() == 4);
  CHECK(s[0] == "\\restrict abc");
  CHECK(s[1] == "CREATE TABLE t (a text DEFAULT 'x;y''z', \"we;ird\" int);");
  CHECK(s[2].find("$body$ SELECT 1; $body$") != std::string::npos);
  CHECK(s[3] == "SELECT E'it\\'s;';");
  CHECK(SplitSqlStatements("-- only\n-- comments\n").empty());
}

TEST_CASE("ExtractTableDefinition keeps the definition and drops binary-upgrade-only calls") {
  const std::string script =
      "--\n-- PostgreSQL database dump\n--\n\n"
      "SET statement_timeout = 0;\n"
      "SELECT pg_catalog.set_config('search_path', '', false);\n\n"
      "--\n-- Name: c2; Type: TABLE; Schema: public; Owner: postgres\n--\n\n"
      "-- For binary upgrade, must preserve pg_type oid\n"
      "SELECT pg_catalog.binary_upgrade_set_next_pg_type_oid('16399'::pg_catalog.oid);\n"
      "CREATE TABLE public.c2 (\n    x integer,\n    a integer,\n    b integer DEFAULT 7 NOT NULL\n);\n\n"
      "SELECT pg_catalog.binary_upgrade_set_missing_value('public.c2'::pg_catalog.regclass,'b','{7}');\n"
      "ALTER TABLE ONLY public.c2 ADD CONSTRAINT pchk CHECK ((a > 0));\n"
      "UPDATE pg_catalog.pg_constraint\nSET conislocal = false\nWHERE contype = 'c' AND conname = 'pchk'\n"
      "  AND conrelid = 'public.c2'::pg_catalog.regclass;\n"
      "ALTER TABLE ONLY public.c2 INHERIT public.p;\n"
      "UPDATE pg_catalog.pg_class\nSET relfrozenxid = '734'\nWHERE oid = 'public.c2'::pg_catalog.regclass;\n\n"
      "ALTER TABLE public.c2 OWNER TO postgres;\n\n"
      "--\n-- Name: c3; Type: TABLE; Schema: public; Owner: postgres\n--\n\n"
      "CREATE TABLE public.c3 (m integer);\n";
  std::string def = ExtractTableDefinition(script, "public", "c2");
  CHECK(def.find("CREATE TABLE public.c2 (") == 0);
  CHECK(def.find("ADD CONSTRAINT pchk") != std::string::npos);
  CHECK(def.find("SET conislocal = false") != std::string::npos);
  CHECK(def.find("INHERIT public.p;") != std::string::npos);
  CHECK(def.find("OWNER TO postgres") != std::string::npos);
  CHECK(def.find("binary_upgrade") == std::string::npos);
  CHECK(def.find("relfrozenxid") == std::string::npos);
  CHECK(def.find("public.c3") == std::string::npos);
  CHECK(ExtractTableDefinition(script, "public", "c3") == "CREATE TABLE public.c3 (m integer);\n");
  CHECK(ExtractTableDefinition(script, "other", "c2").empty());
}

}  // namespace table_layout_test

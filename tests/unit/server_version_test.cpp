// Version-dependent catalog queries (issue 7): pg_database's locale columns differ between
// PostgreSQL 13-14, 15, 16 and 17-18; the query and CREATE DATABASE are chosen per version and
// unsupported versions are refused by name.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>

#include "dhanbak/error.hpp"
#include "pg/database_properties.hpp"
#include "pg/pg_tools.hpp"
#include "pg/source_catalog.hpp"

namespace server_version_test {  // this file's names, apart from its unity batch's

using namespace dhanbak;

namespace {
bool Has(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }
}  // namespace

TEST_CASE("DatabasePropertiesQuery uses each version's own pg_database columns") {
  for (int v : {130014, 140011}) {
    CAPTURE(v);
    std::string q = pg::DatabasePropertiesQuery(v);
    CHECK_FALSE(Has(q, "datlocprovider"));
    CHECK_FALSE(Has(q, "daticulocale"));
    CHECK_FALSE(Has(q, "datlocale"));
    CHECK_FALSE(Has(q, "daticurules"));
  }
  std::string q15 = pg::DatabasePropertiesQuery(150018);
  CHECK(Has(q15, "d.datlocprovider"));
  CHECK(Has(q15, "d.daticulocale"));
  CHECK_FALSE(Has(q15, "daticurules"));
  std::string q16 = pg::DatabasePropertiesQuery(160004);
  CHECK(Has(q16, "d.daticulocale"));
  CHECK(Has(q16, "d.daticurules"));
  for (int v : {170002, 180000}) {
    CAPTURE(v);
    std::string q = pg::DatabasePropertiesQuery(v);
    CHECK(Has(q, "d.datlocale"));
    CHECK_FALSE(Has(q, "daticulocale"));
    CHECK(Has(q, "d.daticurules"));
  }
}

TEST_CASE("unsupported server versions are refused by name") {
  for (int v : {90624, 120017, 190000}) {
    CAPTURE(v);
    try {
      pg::RequireSupportedServer(v);
      FAIL("accepted an unsupported version");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kPg);
      CHECK(Has(e.what(), "PostgreSQL " + std::to_string(v / 10000) + " is not supported"));
      CHECK(Has(e.what(), "13 to 18"));
    }
    CHECK_THROWS_AS(pg::DatabasePropertiesQuery(v), Error);
  }
  CHECK_NOTHROW(pg::RequireSupportedServer(130000));
  CHECK_NOTHROW(pg::RequireSupportedServer(180003));
}

TEST_CASE("CreateDatabaseSql per target version: providers, ICU rules, refusal") {
  format::DatabaseProperties libc;
  libc.encoding = "UTF8";
  libc.collate = libc.ctype = "C.UTF-8";
  libc.locale_provider = "c";
  CHECK_FALSE(Has(pg::CreateDatabaseSql("d", libc, 140000), "LOCALE_PROVIDER"));
  CHECK(Has(pg::CreateDatabaseSql("d", libc, 150000), "LOCALE_PROVIDER = libc"));

  format::DatabaseProperties icu = libc;
  icu.locale_provider = "i";
  icu.icu_locale = "und-u-ks-level2";
  CHECK(Has(pg::CreateDatabaseSql("d", icu, 150000), "LOCALE_PROVIDER = icu ICU_LOCALE = 'und-u-ks-level2'"));
  CHECK_THROWS_AS(pg::CreateDatabaseSql("d", icu, 140000), Error);
  icu.icu_rules = "&a < b";
  CHECK(Has(pg::CreateDatabaseSql("d", icu, 160000), "ICU_RULES = '&a < b'"));
  try {
    pg::CreateDatabaseSql("d", icu, 150000);
    FAIL("ICU rules accepted by PostgreSQL 15");
  } catch (const Error& e) {
    CHECK(Has(e.what(), "ICU collation rules"));
    CHECK(Has(e.what(), "16 or newer"));
  }

  format::DatabaseProperties builtin = libc;
  builtin.locale_provider = "b";
  builtin.icu_locale = "C.UTF-8";
  CHECK(Has(pg::CreateDatabaseSql("d", builtin, 170000), "LOCALE_PROVIDER = builtin BUILTIN_LOCALE = 'C.UTF-8'"));
  CHECK_THROWS_AS(pg::CreateDatabaseSql("d", builtin, 160000), Error);
}

TEST_CASE("tools get conninfo options without a PG* variable: plain ones in -d, secret ones in a private service file") {
  pg::ToolTarget t{"host=/tmp port=5432 user=u password=hunter2 keepalives=1 keepalives_idle=30 "
                   "tcp_user_timeout=10000 sslpassword=keypass",
                   "my db's", 150000};
  std::string arg = pg::ToolConninfo(t);
  CHECK(arg == "dbname='my db\\'s' keepalives='1' keepalives_idle='30' tcp_user_timeout='10000'");
  CHECK_FALSE(Has(arg, "hunter2"));
  CHECK_FALSE(Has(arg, "keypass"));
  auto env = pg::ToolEnvironment(t);
  std::string service_file;
  bool password_in_env = false;
  for (const auto& [name, value] : env) {
    if (name == "PGSERVICEFILE") service_file = value;
    if (name == "PGPASSWORD") password_in_env = value == "hunter2";
    CHECK_FALSE(Has(value, "keypass"));
  }
  CHECK(password_in_env);
  REQUIRE_FALSE(service_file.empty());
  struct stat st {};
  REQUIRE(::stat(service_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(service_file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text == "[dhanbak_tools]\nsslpassword=keypass\n");

  pg::ToolTarget with_service{"service=prod sslpassword=keypass", "d", 150000};
  CHECK_THROWS_AS(pg::ToolEnvironment(with_service), Error);
}

}  // namespace server_version_test

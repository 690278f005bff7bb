// SQL that recreates a database's own properties (design §1 "Faithful"): CREATE DATABASE with
// the original encoding, locale and locale provider; afterwards owner, connection limit,
// comment, ACL and the `ALTER DATABASE ... SET` / `ALTER ROLE ... IN DATABASE ... SET`
// settings — applied only once the data is loaded, so a setting such as
// default_transaction_read_only cannot get in the way of the restore itself.
#pragma once

#include <string>
#include <vector>

#include "dhanbak/format/manifest.hpp"

namespace dhanbak::pg {

// For a target server of `target_version_num`; throws Error(kInvalidArgument) when that server
// cannot represent the backup's locale provider (ICU before 15, ICU rules before 16, builtin
// before 17).
std::string CreateDatabaseSql(const std::string& name, const format::DatabaseProperties& p,
                              int target_version_num);
std::vector<std::string> DatabasePropertiesSql(const std::string& name, const format::DatabaseProperties& p);

// "DateStyle=SQL, DMY" → "DateStyle TO 'SQL, DMY'" (list-valued settings quoted per element).
std::string SettingClause(const std::string& setting);

}  // namespace dhanbak::pg

// FetchSpool — WAL files the wal-fetch worker downloaded ahead of PostgreSQL's restore_command
// calls ([pitr] spool_dir, `restore-<repository>/` below it; docs/decisions.md "The WAL archive").
//
//   <file>       a fetched WAL file, already checked against its archived hash
//   wanted       the file PostgreSQL asked for last (each wal-fetch call writes it)
//   plan         the files the worker is downloading now, one per line
//   worker.lock  flock(2) held by the one running worker; worker.log its log lines
// The directory is per repository (a hash of its URL), so files of another repository are never
// handed out. Its size is bounded by [pitr] fetch_ahead files.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dhanbak::wal {

class FetchSpool {
 public:
  FetchSpool(const std::string& spool_dir, const std::string& repository_url);

  // Creates the directories (0700). Throws Error(kIo).
  void Prepare() const;
  std::string lock_path() const { return dir_ + "/worker.lock"; }
  std::string log_path() const { return dir_ + "/worker.log"; }

  // Moves spooled `file` to `dest` (a copy when they are on different file systems); false when
  // it is not spooled.
  bool Take(const std::string& file, const std::string& dest) const;
  bool Has(const std::string& file) const;
  void Put(const std::string& file, std::string_view content) const;
  // Removes spooled files whose names are not in `keep`.
  void Trim(const std::set<std::string>& keep) const;

  void SetWanted(const std::string& file) const;
  std::string Wanted() const;
  void SetPlan(const std::vector<std::string>& files) const;
  std::set<std::string> Plan() const;

 private:
  std::string dir_;
};

}  // namespace dhanbak::wal

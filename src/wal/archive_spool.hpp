// ArchiveSpool — what the wal-push worker leaves for later wal-push calls ([pitr] spool_dir,
// `archive/` below it; docs/decisions.md "The WAL archive").
//
//   archive/<file>.ok      the worker stored <file>: "dhanbak-ack 1", repository URL, SHA-256 and
//                          size of the content it stored
//   archive/<file>.error   the worker could not store <file>: the error code, then the message
//   archive/given-up       files wal-push gave up under [pitr] max_wal_backlog, one per line,
//                          until the worker records them in the repository (wal/skipped/<file>)
//   archive/worker.lock    flock(2) held by the one running worker
//   archive/worker.log     the worker's log lines
// A wal-push call for <file> believes an acknowledgement only when it names the configured
// repository and the file's current content, and consumes it either way. Losing the whole
// directory is harmless: the next call pushes again, and pushes are idempotent.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dhanbak/error.hpp"

namespace dhanbak::wal {

class ArchiveSpool {
 public:
  ArchiveSpool(const std::string& spool_dir, std::string repository_url);

  // Creates the directories (0700). Throws Error(kIo).
  void Prepare() const;
  const std::string& dir() const { return dir_; }
  std::string lock_path() const { return dir_ + "/worker.lock"; }
  std::string log_path() const { return dir_ + "/worker.log"; }

  void WriteAck(const std::string& file, std::string_view content) const;
  bool HasAck(const std::string& file) const;
  // True when an acknowledgement for `file` matches `content`. A matching one stays until
  // PostgreSQL has marked the file done (RemoveSettled): removed any earlier, the worker would
  // see the file still `.ready` without an acknowledgement and push it a second time. One that
  // does not match (the file changed since) is removed, so that the worker pushes it again.
  bool AckMatches(const std::string& file, std::string_view content) const;

  void WriteError(const std::string& file, ErrorCode code, const std::string& message) const;
  // The worker's error about `file`, removed once read; nullopt when there is none.
  std::optional<std::pair<ErrorCode, std::string>> ConsumeError(const std::string& file) const;

  // Never throws: giving a file up must not fail because the spool cannot be written.
  void RecordGivenUp(const std::string& file) const;
  // The files recorded as given up, and the record emptied.
  std::vector<std::string> TakeGivenUp() const;

  // The worker log's last line (what made the last worker stop), "" when there is none.
  std::string LastLogLine() const;

  // Removes acknowledgements and errors of files that are no longer waiting in `ready` (PostgreSQL
  // has marked them done, so no call will ever ask).
  void RemoveSettled(const std::set<std::string>& ready) const;

 private:
  std::string AckText(std::string_view content) const;

  std::string dir_;
  std::string repository_url_;
};

}  // namespace dhanbak::wal

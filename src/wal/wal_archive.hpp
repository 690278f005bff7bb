// WalArchive — the WAL archive inside a repository: store a WAL file exactly once, find it, read
// it back (docs/repository-format.md §7, docs/decisions.md "The WAL archive").
//
// A file is stored under a name carrying the keyed hash of its content (wal_file.hpp), so
//  - pushing a file already archived with the same content is answered by one listing and
//    succeeds without uploading (PostgreSQL archives a file again after a crash);
//  - the same file name with different content is refused loudly and never overwritten: two
//    clusters archiving into one repository (split brain), or a damaged pg_wal;
//  - a reader checks that what it decrypted is what was archived.
// The first segment archived also records the cluster's system identifier (`wal/cluster`); a
// segment from any other cluster is refused, so two clusters' WAL never mix.
// Thread-safety: Push and Fetch may be called from many threads.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/repository.hpp"
#include "wal/wal_file.hpp"

namespace dhanbak::wal {

// What `wal/cluster` records: the cluster whose WAL this archive holds.
struct ArchiveIdentity {
  uint64_t system_identifier = 0;
  uint32_t segment_size = 0;
};

class WalArchive {
 public:
  explicit WalArchive(const format::Repository& repository) : repository_(repository) {}

  enum class PushOutcome { kStored, kAlreadyArchived };
  // Stores `content` as WAL file `file`. Throws Error(kCorruption) when the file is archived with
  // other content, or when a segment comes from another cluster than the archive's.
  PushOutcome Push(const WalFile& file, std::string_view content);

  // The distinct content hashes stored for `file` (hidden B2 names count: they are still readable).
  std::vector<std::string> StoredHashes(const WalFile& file) const;

  // The content of `file`, checked against its hash; nullopt when the repository definitely has
  // no such file (the listing succeeded and found none). Throws kCorruption when it is stored
  // with two different contents or does not decrypt to what was archived.
  std::optional<std::string> Fetch(const WalFile& file) const;

  // Up to `max` files archived after `file` in its directory (same timeline and log), in order.
  std::vector<WalFile> ArchivedAfter(const WalFile& file, size_t max) const;

  // Records that wal-push gave `file` up under [pitr] max_wal_backlog (wal/skipped/<file>).
  void RecordGivenUp(const std::string& file) const;

  // The archive's cluster, or nullopt before its first segment was pushed.
  std::optional<ArchiveIdentity> Identity() const;

 private:
  void CheckIdentity(const WalFile& file, std::string_view content);

  const format::Repository& repository_;
  std::mutex identity_mu_;
  std::optional<ArchiveIdentity> identity_;  // known to match, once checked or recorded
};

}  // namespace dhanbak::wal

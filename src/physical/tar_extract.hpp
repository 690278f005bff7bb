// TarExtractor — unpacks a tar stream as BASE_BACKUP sends it (ustar headers as PostgreSQL's
// tarCreateHeader writes them: regular files, directories, symbolic links) into a directory,
// as it arrives, without keeping more than one 512-byte header in memory. Entries leaving the
// directory (absolute names, "..") are refused. Files are written, not yet synced: the caller
// syncs the file system once at the end (SyncTree).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace dhanbak::physical {

class TarExtractor {
 public:
  // `map_link`: the target to give a symbolic link entry (name, stored target); the main data
  // directory's pg_tblspc/<oid> links are remapped this way (--tablespace-map).
  using LinkMapper = std::function<std::string(const std::string& name, const std::string& target)>;
  TarExtractor(std::string root, LinkMapper map_link);
  ~TarExtractor();
  TarExtractor(const TarExtractor&) = delete;
  TarExtractor& operator=(const TarExtractor&) = delete;

  // Throws Error(kIo) when a file cannot be written, Error(kCorruption) on a malformed archive.
  void Write(std::string_view data);
  // The archive must end between entries. Throws Error(kCorruption) otherwise.
  void Finish();

  int64_t files() const { return files_; }
  int64_t bytes() const { return bytes_; }

 private:
  void OnHeader();
  void CloseFile();

  std::string root_;
  LinkMapper map_link_;
  std::string header_;        // a partial 512-byte header
  uint64_t remaining_ = 0;    // data bytes of the current entry still to come
  uint64_t padding_ = 0;      // zero bytes after them up to the next 512-byte boundary
  int fd_ = -1;               // the regular file being written, or -1
  std::string current_;       // its name, for messages
  bool ended_ = false;        // an all-zero header block was seen
  int64_t files_ = 0, bytes_ = 0;
};

// Flushes every file under `dir` to disk (syncfs of its file system) and fsyncs `dir` itself.
void SyncTree(const std::string& dir);

}  // namespace dhanbak::physical

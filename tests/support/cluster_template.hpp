// A new test cluster's data directory, made by copying one that initdb made once.
//
// initdb costs about 0.9 s of CPU (its bootstrap backends); copying its result costs 0.1 s. The
// suites make a few hundred clusters per run, in both builds. The copy gets a system identifier of
// its own, as a fresh initdb would: dhanbak tells clusters apart by it (a repository refuses WAL
// of another cluster), and so do tests.
#pragma once

#include <string>

namespace dhanbak::test {

// Makes `data_dir` (which must not exist; its parent belongs to the server user) a stopped,
// freshly initialised cluster of the server in `bindir`, with `wal_segment_mb` MiB WAL segments,
// owned by the server user. The template it copies is kept under the test temporary root (see
// temp_root.hpp), one per server binary and segment size, and made again when missing; several
// test processes may make it at once. Throws std::runtime_error.
void InitClusterFromTemplate(const std::string& bindir, const std::string& data_dir, int wal_segment_mb);

}  // namespace dhanbak::test

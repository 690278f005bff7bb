// Where the test harness makes its temporary directories: PostgreSQL clusters, dhanbak work
// directories and repositories, WAL archive environments.
#pragma once

#include <string>

namespace dhanbak::test {

// mkdtemp of "<root>/<prefix>-XXXXXX", root being DHANBAK_TEST_TMPDIR when set, else /tmp. The
// tests' clusters create and drop databases, relations and WAL segments by the thousand; on a
// tmpfs those cost less than on ext4 (scripts/test.sh points it at /dev/shm when that has room).
// Throws std::runtime_error on failure.
std::string MakeTestTempDir(const std::string& prefix);

// That root: DHANBAK_TEST_TMPDIR when set, else /tmp.
std::string TestTempRoot();

}  // namespace dhanbak::test

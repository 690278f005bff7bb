// The storage conformance suite against LocalStorage in a temporary directory, and against the
// unit tests' versioned in-memory double.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>

#include "conformance/storage_suite.hpp"
#include "storage/local/local_storage.hpp"
#include "support/versioned_memory_storage.hpp"

namespace local_conformance_test {  // this file's names, apart from its unity batch's

TEST_CASE("conformance: local directory") {
  char dir_template[] = "/tmp/dhanbak-conf-local-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string root = dir_template;
  dhanbak::test::RunStorageConformance(
      [&] {
        std::filesystem::create_directories(root + "/repo");
        return std::make_unique<dhanbak::storage::LocalStorage>(root + "/repo");
      },
      {.label = "local"});
  std::filesystem::remove_all(root);
}

TEST_CASE("conformance: versioned memory storage (the unit tests' stand-in for B2)") {
  dhanbak::test::RunStorageConformance([] { return std::make_unique<dhanbak::test::VersionedMemoryStorage>(); },
                                       {.label = "memory", .keeps_versions = true});
}

}  // namespace local_conformance_test

// doctest's main for every test binary, failing a run whose filters select no test case: CTest
// runs each integration test file as `integration_tests --source-file=*/<file>`, and a filter
// that no longer matches (a renamed file) must not pass by running nothing.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

namespace {

bool g_run_ended = false;
unsigned g_selected = 0;

// Listens to the run's totals only.
struct SelectionCounter : doctest::IReporter {
  explicit SelectionCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    g_run_ended = true;
    g_selected = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("selection_counter", 1, SelectionCounter);

int main(int argc, char** argv) {
  // Every repository the tests create through `dhanbak init` or `key add` gets a key stretched
  // with scrypt N=2^10 instead of 2^17: each later run that unlocks it (thousands, among them
  // every wal-push PostgreSQL starts) then spends milliseconds on the passphrase instead of a
  // second of CPU and 128 MiB. The default cost is tested where it matters (repository_test,
  // failure_test's passphrase check, which unsets this).
  setenv("DHANBAK_TESTONLY_WEAKEN_KDF", "1", 1);
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (rc == 0 && g_run_ended && g_selected == 0) {
    std::fprintf(stderr, "no test case matches the filters given\n");
    return 1;
  }
  return rc;
}

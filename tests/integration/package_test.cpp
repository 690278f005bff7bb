// The Debian package (cpack): it installs with dpkg on this machine, creates the dhanbak user and
// its directories, runs as that user, keeps an edited configuration across a reinstall, and
// purging removes it without touching /var/lib/dhanbak (where a file:// repository or the catalog
// may live). Needs root (CI runs as root); refuses to run where dhanbak is already installed.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/temp_dir.hpp"
#include "support/build_under_test.hpp"
#include "support/process.hpp"

namespace package_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;
using dhanbak::test::ProcessResult;
using dhanbak::test::RunProcess;

namespace {

ProcessResult Run(const std::vector<std::string>& argv) {
  dhanbak::test::ProcessOptions o;
  o.env = {{"DEBIAN_FRONTEND", "noninteractive"}};
  return RunProcess(argv, o);
}

std::string ModeOwner(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%o", st.st_mode & 07777);
  ProcessResult owner = Run({"stat", "-c", "%U:%G", path});
  return std::string(buf) + " " + owner.out.substr(0, owner.out.find('\n'));
}

}  // namespace

TEST_CASE("package: the .deb installs, runs as the dhanbak user, keeps its conffile, purges without touching /var/lib/dhanbak") {
  REQUIRE_MESSAGE(::geteuid() == 0, "the package test installs a .deb: run it as root (as CI does)");
  REQUIRE_MESSAGE(Run({"dpkg-query", "-W", "-f=${Status}", "dhanbak"}).out.find("installed") == std::string::npos,
                  "dhanbak is installed as a package on this machine: the test would replace and purge it");
  dhanbak::TempDir out;
  ProcessResult built = RunProcess({"cpack", "-G", "DEB", "-B", out.path(), "--config",
                                    BuildDirUnderTest() + "/CPackConfig.cmake"},
                                   {});
  REQUIRE_MESSAGE(built.exit_code == 0, built.out << built.err);
  std::string deb;
  for (const auto& e : fs::directory_iterator(out.path())) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  REQUIRE(!deb.empty());
  ProcessResult info = Run({"dpkg-deb", "-I", deb});
  CHECK(info.out.find("Package: dhanbak") != std::string::npos);
  CHECK(info.out.find("conffiles") != std::string::npos);

  ProcessResult installed = Run({"dpkg", "-i", deb});
  REQUIRE_MESSAGE(installed.exit_code == 0, installed.out << installed.err);
  CHECK(Run({"getent", "passwd", "dhanbak"}).exit_code == 0);
  CHECK(ModeOwner("/etc/dhanbak") == "750 root:dhanbak");
  CHECK(ModeOwner("/etc/dhanbak/dhanbak.toml") == "640 root:dhanbak");
  CHECK(ModeOwner("/var/lib/dhanbak") == "700 dhanbak:dhanbak");
  CHECK(ModeOwner("/var/log/dhanbak") == "750 dhanbak:adm");
  CHECK(fs::exists("/lib/systemd/system/dhanbak-backup.timer"));
  CHECK(fs::exists("/usr/share/dhanbak/cron.d/dhanbak"));
  CHECK(fs::exists("/usr/share/doc/dhanbak/operations.md"));
  CHECK(fs::exists("/usr/bin/dhanbak-b2-emulator"));
  ProcessResult version = Run({"runuser", "-u", "dhanbak", "--", "/usr/bin/dhanbak", "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.starts_with("dhanbak "));
  // As the service user it finds and reads the packaged configuration (its secrets are not there yet).
  ProcessResult configured = Run({"runuser", "-u", "dhanbak", "--", "/usr/bin/dhanbak", "list"});
  CHECK_MESSAGE(configured.out.find("b2://dhanman-backups/postgresql") != std::string::npos, configured.err);
  // The first secret of [b2] in the file: the key id.
  CHECK_MESSAGE(configured.err.find("secret file /etc/dhanbak/b2-key-id does not exist") != std::string::npos,
                configured.err);

  // An operator's edit survives a reinstall; a repository-like file under /var/lib/dhanbak
  // survives the purge.
  std::ofstream("/etc/dhanbak/dhanbak.toml", std::ios::app) << "# edited by the operator\n";
  std::ofstream("/var/lib/dhanbak/keep-me") << "catalog\n";
  ProcessResult again = Run({"dpkg", "-i", "--force-confold", deb});
  CHECK_MESSAGE(again.exit_code == 0, again.out << again.err);
  {
    std::ifstream conf("/etc/dhanbak/dhanbak.toml");
    CHECK(std::string(std::istreambuf_iterator<char>(conf), {}).find("# edited by the operator") != std::string::npos);
  }
  ProcessResult purged = Run({"dpkg", "--purge", "dhanbak"});
  CHECK_MESSAGE(purged.exit_code == 0, purged.out << purged.err);
  CHECK_FALSE(fs::exists("/usr/bin/dhanbak"));
  CHECK_FALSE(fs::exists("/etc/dhanbak"));
  CHECK_FALSE(fs::exists("/var/log/dhanbak"));
  CHECK(fs::exists("/var/lib/dhanbak/keep-me"));
  fs::remove_all("/var/lib/dhanbak");
}

}  // namespace package_test

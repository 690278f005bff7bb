// [notify] smtp_url: the failure message by e-mail through a real SMTP server (Debian's
// python3-aiosmtpd, tests/support/smtp_server.py) that requires AUTH, and STARTTLS before it;
// a refused login and a relay without STARTTLS are logged and change no exit code.
#include <doctest/doctest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.hpp"
#include "support/build_under_test.hpp"
#include "support/process.hpp"

namespace mail_notify_test {  // this file's names, apart from its unity batch's

namespace fs = std::filesystem;
using dhanbak::test::BackgroundProcess;
using dhanbak::test::ProcessOptions;
using dhanbak::test::ProcessResult;
using dhanbak::test::RunProcess;

namespace {

constexpr const char* kUser = "relay-user";
constexpr const char* kPassword = "relay-Secret-7731";

void WriteSecret(const std::string& path, const std::string& value) {
  std::ofstream(path, std::ios::trunc) << value << "\n";
  ::chmod(path.c_str(), 0600);
}

// The SMTP server, listening on `host` (any port), in `mode` "starttls" or "plain".
struct SmtpServer {
  std::unique_ptr<BackgroundProcess> process;
  int port = 0;
  std::string outdir;

  SmtpServer(const std::string& dir, const std::string& mode, const std::string& host) : outdir(dir + "/mail-" + mode) {
    fs::create_directories(outdir);
    ProcessOptions o;
    o.env = {{"SMTP_TEST_USER", kUser}, {"SMTP_TEST_PASSWORD", kPassword}};
    process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{"/usr/bin/python3", std::string(DHANBAK_SOURCE_DIR) + "/tests/support/smtp_server.py",
                                 mode, outdir, dir + "/cert.pem", dir + "/key.pem", host},
        o);
    REQUIRE_MESSAGE(process->WaitForOutput("listening ", std::chrono::seconds(30)), process->Stderr());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string out = process->Stdout();
    port = std::stoi(out.substr(out.find("listening ") + 10));
  }

  std::vector<nlohmann::json> Mails() const {
    std::vector<nlohmann::json> mails;
    for (int n = 1; fs::exists(outdir + "/mail-" + std::to_string(n) + ".json"); ++n) {
      std::ifstream in(outdir + "/mail-" + std::to_string(n) + ".json");
      mails.push_back(nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {})));
    }
    return mails;
  }
};

// A configuration whose repository cannot be unlocked (its passphrase variable is unset), so
// that `check`, an unattended command, fails at once with exit 2 and notifies.
std::string FailingConfig(const std::string& dir, const std::string& name, const std::string& notify) {
  const std::string path = dir + "/" + name + ".toml";
  std::ofstream(path) << "[repository]\nurl = \"file://" << dir << "/repo\"\npassphrase = \"env:DHANBAK_NO_SUCH_VAR\"\n"
                      << "[catalog]\npath = \"" << dir << "/catalog.sqlite\"\n[notify]\n" << notify;
  return path;
}

ProcessResult Check(const std::string& config) {
  ProcessOptions o;
  o.unset_env = {"DHANBAK_NO_SUCH_VAR", "DHANBAK_CONFIG"};
  return RunProcess({DhanbakBinary(), "-c", config, "--allow-root", "check"}, o);
}

// An IPv4 address of this machine that is not loopback ("" when there is none).
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (!std::string(text).starts_with("127.")) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

TEST_CASE("mail: a failure reaches every recipient through STARTTLS and AUTH; a refused login is logged, exit code kept") {
  dhanbak::TempDir dir;
  ProcessResult cert = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                                   "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout",
                                   dir.path() + "/key.pem", "-out", dir.path() + "/cert.pem"},
                                  {});
  REQUIRE_MESSAGE(cert.exit_code == 0, cert.err);
  SmtpServer server(dir.path(), "starttls", "127.0.0.1");
  WriteSecret(dir.path() + "/smtp-user", kUser);
  WriteSecret(dir.path() + "/smtp-password", kPassword);
  const std::string config = FailingConfig(
      dir.path(), "mail",
      "smtp_url = \"smtp://127.0.0.1:" + std::to_string(server.port) + "\"\nsmtp_user = \"file:" + dir.path() +
          "/smtp-user\"\nsmtp_password = \"file:" + dir.path() + "/smtp-password\"\nsmtp_ca_file = \"" + dir.path() +
          "/cert.pem\"\nmail_from = \"dhanbak@db1.example.com\"\nmail_to = [\"oncall@example.com\", \"dba@example.com\"]\n");

  ProcessResult failed = Check(config);
  INFO(failed.err);
  CHECK(failed.exit_code == 2);
  CHECK(failed.err.find("smtp_url failed") == std::string::npos);
  auto mails = server.Mails();
  REQUIRE(mails.size() == 1);
  const auto& mail = mails[0];
  CHECK(mail.at("tls") == true);  // upgraded with STARTTLS before AUTH and the message
  CHECK(mail.at("authenticated") == true);
  CHECK(mail.at("from") == "dhanbak@db1.example.com");
  CHECK(mail.at("to") == nlohmann::json::array({"oncall@example.com", "dba@example.com"}));
  const std::string content = mail.at("content");
  CHECK(content.find("Subject: [dhanbak] dhanbak check FAILED on ") != std::string::npos);
  CHECK(content.find("To: oncall@example.com, dba@example.com\r\n") != std::string::npos);
  CHECK(content.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
  CHECK(content.find("error: ") != std::string::npos);
  CHECK(content.find("DHANBAK_NO_SUCH_VAR") != std::string::npos);
  CHECK(content.find("next step: fix the configuration") != std::string::npos);
  CHECK(content.find(kPassword) == std::string::npos);

  // The relay refuses the login: logged (without the password), the exit code is the command's.
  WriteSecret(dir.path() + "/smtp-password", "a-wrong-password");
  ProcessResult refused = Check(config);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("notification by mail through [notify] smtp_url failed: Login denied") != std::string::npos);
  CHECK(refused.err.find("a-wrong-password") == std::string::npos);
  CHECK(server.Mails().size() == 1);
}

TEST_CASE("mail: smtp:// to a relay on the network that offers no STARTTLS is refused before AUTH") {
  const std::string address = NonLoopbackAddress();
  if (address.empty()) {
    MESSAGE("this machine has no non-loopback IPv4 address: skipped");
    return;
  }
  dhanbak::TempDir dir;
  ProcessResult cert = RunProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                                   "/CN=localhost", "-keyout", dir.path() + "/key.pem", "-out", dir.path() + "/cert.pem"},
                                  {});
  REQUIRE(cert.exit_code == 0);
  SmtpServer server(dir.path(), "plain", "0.0.0.0");
  WriteSecret(dir.path() + "/smtp-password", kPassword);
  const std::string notify = "smtp_url = \"smtp://%s:" + std::to_string(server.port) + "\"\nsmtp_user = \"literal:" +
                             kUser + "\"\nsmtp_password = \"file:" + dir.path() +
                             "/smtp-password\"\nmail_from = \"dhanbak@db1.example.com\"\nmail_to = [\"oncall@example.com\"]\n";
  auto with_host = [&](const std::string& host) {
    std::string n = notify;
    n.replace(n.find("%s"), 2, host);
    return n;
  };
  ProcessResult plain = Check(FailingConfig(dir.path(), "network", with_host(address)));
  CHECK(plain.exit_code == 2);
  CHECK(plain.err.find("smtp_url failed") != std::string::npos);
  CHECK(plain.err.find("does not offer STARTTLS") != std::string::npos);
  CHECK(server.Mails().empty());  // nothing (and no password) crossed the network in clear
  // The same relay reached on the loopback address: plain SMTP is allowed on this machine.
  ProcessResult local = Check(FailingConfig(dir.path(), "local", with_host("127.0.0.1")));
  CHECK(local.exit_code == 2);
  CHECK(local.err.find("smtp_url failed") == std::string::npos);
  REQUIRE(server.Mails().size() == 1);
  CHECK(server.Mails()[0].at("tls") == false);
}

}  // namespace mail_notify_test

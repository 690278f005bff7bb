// The official b2 CLI (Debian backblaze-b2 1.3.8) against the emulator: proves the emulator
// speaks the B2 protocol as real clients expect it.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "emulator/emulator_fixture.hpp"

namespace dhanbak::emulator::test::official_cli_test {  // this file's names, apart from its unity batch's
namespace {

struct CliResult {
  int exit_code = -1;
  std::string output;
};

// Runs ./b2local with B2_ACCOUNT_INFO inside `dir`; arguments are single-quoted for the shell.
CliResult RunCli(const std::filesystem::path &dir, int port, const std::vector<std::string> &args) {
  std::string command = "cd '" + dir.string() + "' && B2_ACCOUNT_INFO='" + (dir / "b2cli.sqlite").string() +
                        "' B2_REALM_URL=http://127.0.0.1:" + std::to_string(port) + " " + B2LOCAL_SCRIPT;
  for (const auto &arg : args) command += " '" + arg + "'";
  command += " 2>&1";
  CliResult result;
  FILE *pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::filesystem::path &path, const std::string &data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string FileIdFromJson(const std::string &output) {
  auto pos = output.find("\"fileId\": \"");
  if (pos == std::string::npos) return "";
  pos += 11;
  return output.substr(pos, output.find('"', pos) - pos);
}

}  // namespace

TEST_CASE("official b2 CLI 1.3.8 works against the emulator") {
  TempDir tmp;
  EmulatorProcess emulator(tmp.path() / "data", {"--key", "kid:ksecret", "--bucket", "cli-bucket",
                                                 "--recommended-part-size", "5000000"});
  auto dir = tmp.path();

  CliResult wrong = RunCli(dir, emulator.port(), {"authorize-account", "kid", "nope"});
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.output.find("unable to authorize account") != std::string::npos);

  CliResult auth = RunCli(dir, emulator.port(), {"authorize-account", "kid", "ksecret"});
  REQUIRE_MESSAGE(auth.exit_code == 0, auth.output);
  CHECK(auth.output.find("Using " + emulator.url()) != std::string::npos);

  CliResult buckets = RunCli(dir, emulator.port(), {"list-buckets"});
  REQUIRE_MESSAGE(buckets.exit_code == 0, buckets.output);
  CHECK(buckets.output.find("allPrivate  cli-bucket") != std::string::npos);

  const std::string small = RandomBytes(3000, 1);
  WriteFile(dir / "small.bin", small);
  const std::string tricky_name = "chunks/ab/c d+\xC3\xA9.bin";
  CliResult up = RunCli(dir, emulator.port(), {"upload-file", "--noProgress", "--info", "k=v", "cli-bucket",
                                              "small.bin", tricky_name});
  REQUIRE_MESSAGE(up.exit_code == 0, up.output);
  std::string small_id = FileIdFromJson(up.output);
  CHECK(!small_id.empty());

  // Large file: size >= 2 x recommendedPartSize makes the CLI use the large-file API.
  const std::string large = RandomBytes(11000000, 2);
  WriteFile(dir / "large.bin", large);
  CliResult up_large = RunCli(dir, emulator.port(), {"upload-file", "--noProgress", "cli-bucket", "large.bin",
                                                    "big/large.bin"});
  REQUIRE_MESSAGE(up_large.exit_code == 0, up_large.output);
  std::string large_id = FileIdFromJson(up_large.output);

  CliResult ls = RunCli(dir, emulator.port(), {"ls", "--long", "cli-bucket", "chunks/ab"});
  REQUIRE_MESSAGE(ls.exit_code == 0, ls.output);
  CHECK(ls.output.find(small_id) != std::string::npos);
  CHECK(ls.output.find("3000  " + tricky_name) != std::string::npos);
  CliResult ls_top = RunCli(dir, emulator.port(), {"ls", "cli-bucket"});
  CHECK(ls_top.output == "big/\nchunks/\n");

  CliResult down = RunCli(dir, emulator.port(), {"download-file-by-name", "--noProgress", "cli-bucket", tricky_name,
                                                "out.bin"});
  REQUIRE_MESSAGE(down.exit_code == 0, down.output);
  CHECK(down.output.find("checksum matches") != std::string::npos);
  CHECK(ReadFile(dir / "out.bin") == small);

  CliResult down_large = RunCli(dir, emulator.port(), {"download-file-by-name", "--noProgress", "cli-bucket",
                                                      "big/large.bin", "large.out"});
  REQUIRE_MESSAGE(down_large.exit_code == 0, down_large.output);
  CHECK(ReadFile(dir / "large.out") == large);

  CliResult info = RunCli(dir, emulator.port(), {"get-file-info", small_id});
  REQUIRE_MESSAGE(info.exit_code == 0, info.output);
  CHECK(info.output.find("\"contentSha1\": \"" + Sha1(small) + "\"") != std::string::npos);
  CHECK(info.output.find("\"k\": \"v\"") != std::string::npos);

  CliResult hide = RunCli(dir, emulator.port(), {"hide-file", "cli-bucket", "big/large.bin"});
  REQUIRE_MESSAGE(hide.exit_code == 0, hide.output);
  CHECK(hide.output.find("\"action\": \"hide\"") != std::string::npos);
  CHECK(RunCli(dir, emulator.port(), {"ls", "cli-bucket"}).output == "chunks/\n");
  CliResult hidden_down = RunCli(dir, emulator.port(), {"download-file-by-name", "--noProgress", "cli-bucket",
                                                       "big/large.bin", "hidden.out"});
  CHECK(hidden_down.exit_code != 0);

  CliResult del = RunCli(dir, emulator.port(), {"delete-file-version", tricky_name, small_id});
  REQUIRE_MESSAGE(del.exit_code == 0, del.output);
  CHECK(RunCli(dir, emulator.port(), {"ls", "cli-bucket", "chunks/ab"}).output.empty());
  CliResult versions = RunCli(dir, emulator.port(), {"list-file-versions", "cli-bucket"});
  CHECK(versions.output.find(large_id) != std::string::npos);
  CHECK(versions.output.find(small_id) == std::string::npos);
}

}  // namespace dhanbak::emulator::test::official_cli_test

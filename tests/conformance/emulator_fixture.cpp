#include "conformance/emulator_fixture.hpp"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "storage/b2/api_client.hpp"
#include "storage/b2/auth_session.hpp"
#include "storage/b2/http_client.hpp"

namespace dhanbak::test {

EmulatorProcess::EmulatorProcess(EmulatorSetup setup) {
  char dir_template[] = "/tmp/dhanbak-b2emu-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  data_dir_ = dir_template;
  std::vector<std::string> argv = {DHANBAK_B2_EMULATOR, "--listen", "127.0.0.1:0", "--data-dir", data_dir_};
  for (const auto& key : setup.keys) argv.insert(argv.end(), {"--key", key});
  for (const auto& bucket : setup.buckets) argv.insert(argv.end(), {"--bucket", bucket});
  argv.insert(argv.end(), setup.extra_args.begin(), setup.extra_args.end());
  process_ = std::make_unique<BackgroundProcess>(argv);
  const std::string marker = "listening on http://";
  if (!process_->WaitForOutput(marker, std::chrono::seconds(20))) {
    throw std::runtime_error("b2 emulator did not start: " + process_->Stderr());
  }
  std::string out = process_->Stdout() + process_->Stderr();
  auto pos = out.find(marker);
  auto end = out.find_first_of(" \r\n", pos + marker.size());
  url_ = "http://" + out.substr(pos + marker.size(), end - pos - marker.size());
}

EmulatorProcess::~EmulatorProcess() {
  try {
    Stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

void EmulatorProcess::Stop() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGTERM);
    process_->Wait(std::chrono::seconds(10));
  }
}

nlohmann::json EmulatorProcess::Stats() {
  storage::b2::HttpClient http(storage::b2::HttpSettings{});
  storage::b2::HttpRequest request;
  request.url = url_ + "/_emulator/stats";
  auto response = http.Perform(request);
  return nlohmann::json::parse(response.body);
}

void EmulatorProcess::Control(const std::string& path, const nlohmann::json& body) {
  storage::b2::HttpClient http(storage::b2::HttpSettings{});
  storage::b2::HttpRequest request;
  request.method = "POST";
  request.url = url_ + path;
  std::string text = body.dump();
  request.body = text;
  request.headers = {"Content-Type: application/json"};
  auto response = http.Perform(request);
  if (response.status != 200) {
    throw std::runtime_error("emulator control " + path + " answered " + std::to_string(response.status) + ": " +
                             response.body);
  }
}

nlohmann::json EmulatorProcess::CallB2(const std::string& api, const nlohmann::json& body) {
  storage::b2::HttpClient http(storage::b2::HttpSettings{});
  storage::b2::AuthSession session(http, url_, kEmuKeyId, kEmuKey);
  storage::b2::ApiClient client(http, session);
  storage::b2::RetryState retry("test call " + api, storage::b2::BackoffPolicy{});
  return client.Call(api, body, retry);
}

std::string EmulatorProcess::BucketId(const std::string& name) {
  storage::b2::HttpClient http(storage::b2::HttpSettings{});
  storage::b2::AuthSession session(http, url_, kEmuKeyId, kEmuKey);
  storage::b2::RetryState retry("test bucket id", storage::b2::BackoffPolicy{});
  const std::string account = session.Get(retry)->account_id;
  nlohmann::json reply = CallB2("b2_list_buckets", {{"accountId", account}, {"bucketName", name}});
  return reply.at("buckets").at(0).at("bucketId").get<std::string>();
}

B2Config MakeB2Config(const EmulatorProcess& emulator, const std::string& key_id, const std::string& key) {
  B2Config config;
  config.key_id.spec = key_id;
  config.application_key.spec = key;
  config.api_url = emulator.url();
  config.connections = 8;
  config.retry_max_time = std::chrono::seconds(60);
  config.stall_timeout = std::chrono::seconds(10);
  return config;
}

}  // namespace dhanbak::test

#include "emulator/emulator_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <thread>

namespace dhanbak::emulator::test {

namespace fs = std::filesystem;
using nlohmann::json;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "dhanbak-emu-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

EmulatorProcess::EmulatorProcess(fs::path data_dir, std::vector<std::string> extra_args) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {EMULATOR_BINARY, "--listen", "127.0.0.1:0", "--data-dir", data_dir.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char *> argv;
    for (auto &arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  FILE *out = fdopen(pipe_fds[0], "r");
  char line[256] = {};
  bool got = fgets(line, sizeof(line), out) != nullptr;
  fclose(out);  // later output is not needed; the emulator prints only the one line
  std::string text = got ? line : "";
  const std::string expected = "listening on http://127.0.0.1:";
  if (text.rfind(expected, 0) != 0) {
    Stop();
    throw std::runtime_error("emulator did not start: '" + text + "'");
  }
  port_ = std::stoi(text.substr(expected.size()));
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) Stop();
}

int EmulatorProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -2;  // did not stop on SIGTERM
}

std::string Reply::Header(const std::string &name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

B2::B2(int port, std::string key_id, std::string secret, int version_in)
    : version(version_in), port_(port), key_id_(std::move(key_id)), secret_(std::move(secret)) {}

Reply B2::Send(const std::string &method, const std::string &path, const httplib::Headers &headers,
               const std::string &body, const std::string &content_type) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30);
  httplib::Result result(nullptr, httplib::Error::Unknown);
  if (method == "GET") {
    result = client.Get(path.c_str(), headers);
  } else if (method == "HEAD") {
    result = client.Head(path.c_str(), headers);
  } else {
    result = client.Post(path.c_str(), headers, body, content_type.c_str());
  }
  Reply reply;
  if (!result) return reply;
  reply.status = result->status;
  reply.body = result->body;
  reply.headers = result->headers;
  reply.json = json::parse(reply.body, nullptr, false);
  return reply;
}

Reply B2::Authorize() {
  httplib::Client client("127.0.0.1", port_);
  client.set_basic_auth(key_id_.c_str(), secret_.c_str());
  auto result = client.Post(("/b2api/v" + std::to_string(version) + "/b2_authorize_account").c_str(), "{}",
                            "application/json");
  Reply reply;
  if (!result) return reply;
  reply.status = result->status;
  reply.body = result->body;
  reply.json = json::parse(reply.body, nullptr, false);
  if (reply.status == 200) {
    token = reply.json["authorizationToken"];
    account_id = reply.json["accountId"];
  }
  return reply;
}

Reply B2::Call(const std::string &api, const json &params, bool use_get) {
  std::string path = "/b2api/v" + std::to_string(version) + "/" + api;
  httplib::Headers headers = {{"Authorization", token}};
  if (use_get) {
    httplib::Params query;
    for (const auto &[k, v] : params.items()) query.emplace(k, v.is_string() ? v.get<std::string>() : v.dump());
    return Send("GET", httplib::append_query_params(path, query), headers, "", "");
  }
  return Send("POST", path, headers, params.dump(), "application/json");
}

Reply B2::Upload(const std::string &bucket_id, const std::string &name, const std::string &data,
                 httplib::Headers extra) {
  Reply url = Call("b2_get_upload_url", {{"bucketId", bucket_id}});
  if (url.status != 200) return url;
  return UploadTo(url.json["uploadUrl"], url.json["authorizationToken"], name, data, std::move(extra));
}

Reply B2::UploadTo(const std::string &url, const std::string &upload_token, const std::string &name,
                   const std::string &data, httplib::Headers extra) {
  httplib::Headers headers = {{"Authorization", upload_token},
                              {"X-Bz-File-Name", name},
                              {"X-Bz-Content-Sha1", Sha1(data)}};
  for (auto &[k, v] : extra) {
    headers.erase(k);
    headers.emplace(k, v);
  }
  std::string path = url.substr(url.find('/', std::string("http://").size()));
  return Send("POST", path, headers, data, "b2/x-auto");
}

Reply B2::DownloadByName(const std::string &bucket, const std::string &encoded_name, httplib::Headers extra,
                         bool head) {
  extra.emplace("Authorization", token);
  return Send(head ? "HEAD" : "GET", "/file/" + bucket + "/" + encoded_name, extra, "", "");
}

Reply B2::DownloadById(const std::string &file_id, httplib::Headers extra) {
  extra.emplace("Authorization", token);
  return Send("GET", "/b2api/v" + std::to_string(version) + "/b2_download_file_by_id?fileId=" + file_id, extra, "", "");
}

Reply B2::Control(const std::string &method, const std::string &path, const json &body) {
  return Send(method, "/_emulator/" + path, {}, body.is_null() ? "" : body.dump(), "application/json");
}

std::string B2::BucketId(const std::string &name) {
  Reply reply = Call("b2_list_buckets", {{"accountId", account_id}, {"bucketName", name}});
  if (reply.status != 200 || reply.json["buckets"].empty()) return "";
  return reply.json["buckets"][0]["bucketId"];
}

std::string Sha1(const std::string &data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha1(), nullptr);
  std::string hex;
  char buffer[3];
  for (unsigned i = 0; i < length; ++i) {
    snprintf(buffer, sizeof(buffer), "%02x", digest[i]);
    hex += buffer;
  }
  return hex;
}

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto &c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

std::string RawExchange(int port, const std::string &request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  return response;
}

}  // namespace dhanbak::emulator::test

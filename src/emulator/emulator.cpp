#include "emulator/emulator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <thread>

#include <httplib.h>

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/encoding.hpp"
#include "emulator/params.hpp"

namespace dhanbak::emulator {

using nlohmann::json;

namespace {

int PeerPort(int fd, bool peer) {
  sockaddr_storage addr{};
  socklen_t length = sizeof(addr);
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr *>(&addr), &length)
                : ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &length);
  if (rc != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in *>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6 *>(&addr)->sin6_port);
  return -1;
}

bool IsTransferCall(const std::string &api) { return IsUploadCall(api) || IsDownloadCall(api); }

}  // namespace

Emulator::Emulator(Options options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()), store_(options_.data_dir) {
  json_calls_ = {
      {"b2_authorize_account", &Emulator::AuthorizeAccount},
      {"b2_list_buckets", &Emulator::ListBuckets},
      {"b2_create_bucket", &Emulator::CreateBucket},
      {"b2_delete_bucket", &Emulator::DeleteBucket},
      {"b2_get_upload_url", &Emulator::GetUploadUrl},
      {"b2_list_file_names", &Emulator::ListFileNames},
      {"b2_list_file_versions", &Emulator::ListFileVersions},
      {"b2_get_file_info", &Emulator::GetFileInfo},
      {"b2_hide_file", &Emulator::HideFile},
      {"b2_delete_file_version", &Emulator::DeleteFileVersion},
      {"b2_start_large_file", &Emulator::StartLargeFile},
      {"b2_get_upload_part_url", &Emulator::GetUploadPartUrl},
      {"b2_finish_large_file", &Emulator::FinishLargeFile},
      {"b2_cancel_large_file", &Emulator::CancelLargeFile},
      {"b2_list_unfinished_large_files", &Emulator::ListUnfinishedLargeFiles},
      {"b2_list_parts", &Emulator::ListParts},
      {"b2_create_key", &Emulator::CreateKey},
      {"b2_list_keys", &Emulator::ListKeys},
      {"b2_delete_key", &Emulator::DeleteKey},
  };
}

Emulator::~Emulator() = default;

int Emulator::Bind() {
  store_.Open();
  for (const auto &spec : options_.keys) {
    Key key;
    key.id = spec.id;
    key.secret = spec.secret;
    key.name = spec.id;
    key.capabilities = spec.capabilities;
    key.from_command_line = true;
    store_.PutKey(key);
  }
  for (const auto &spec : options_.buckets) {
    if (const Bucket *existing = store_.FindBucketByName(spec.name)) {
      if (spec.file_lock && !existing->file_lock) {
        Bucket updated = *existing;  // Object Lock can be enabled later, never disabled
        updated.file_lock = true;
        ++updated.revision;
        store_.PutBucket(updated);
      }
      continue;
    }
    Bucket bucket;
    bucket.id = RandomHex(24);
    bucket.name = spec.name;
    bucket.file_lock = spec.file_lock;
    store_.PutBucket(bucket);
  }
  tokens_.SetExpiry(options_.token_expiry);
  std::vector<FaultRule> rules;
  for (const auto &j : options_.faults) rules.push_back(FaultRuleFromJson(j, options_.seed));
  faults_.Replace(std::move(rules));

  int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_payload_max_length(size_t{6} * 1000 * 1000 * 1000);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(60);
  server_->set_write_timeout(60);
  // Clients check clock skew against Date (CLI 1.3.8 fails without it).
  server_->set_post_routing_handler([](const httplib::Request &, httplib::Response &res) {
    char date[64];
    std::time_t now = std::time(nullptr);
    std::tm tm_utc{};
    gmtime_r(&now, &tm_utc);
    std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
    res.set_header("Date", date);
  });
  server_->Get(".*", [this](const httplib::Request &req, httplib::Response &res) { OnGet(req, res); });
  server_->Post(".*", [this](const httplib::Request &req, httplib::Response &res,
                             const httplib::ContentReader &reader) { OnPost(req, res, reader); });
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) throw std::runtime_error("cannot bind to " + options_.host);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      throw std::runtime_error("cannot bind to " + options_.host + ":" + std::to_string(options_.port));
    }
    port_ = options_.port;
  }
  std::string host = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  base_url_ = "http://" + host + ":" + std::to_string(port_);
  return port_;
}

void Emulator::Run() { server_->listen_after_bind(); }

void Emulator::Stop() { server_->stop(); }

// Routes by the raw request target, so that absolute-form targets (a client using us as its
// HTTP proxy) work and so that file names are decoded by B2's rules ('+' is a space), not
// httplib's.
bool Emulator::Route(Call &call) {
  std::string target = call.req.target;
  for (const char *scheme : {"http://", "https://"}) {
    if (target.rfind(scheme, 0) == 0) {
      auto slash = target.find('/', std::string(scheme).size());
      target = slash == std::string::npos ? "/" : target.substr(slash);
    }
  }
  std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (segments.size() >= 2 && segments[0] == "b2api" && segments[1].size() == 2 && segments[1][0] == 'v' &&
      segments[1][1] >= '1' && segments[1][1] <= '4') {
    call.version = segments[1][1] - '0';
    call.api = segments.size() >= 3 ? segments[2] : "";
    call.segments.assign(segments.begin() + std::min<size_t>(3, segments.size()), segments.end());
    return true;
  }
  if (segments.size() >= 3 && segments[0] == "file") {
    call.api = "b2_download_file_by_name";
    call.bucket_name = segments[1];
    std::string raw_name = path.substr(std::string("/file/").size() + segments[1].size() + 1);
    auto decoded = PercentDecode(raw_name);
    call.file_name = decoded ? *decoded : std::string();
    return true;
  }
  if (!segments.empty() && segments[0] == "_emulator") {
    call.api = "_emulator";
    call.segments.assign(segments.begin() + 1, segments.end());
    return true;
  }
  return false;
}

void Emulator::OnGet(const httplib::Request &req, httplib::Response &res) {
  // We answer Range requests ourselves; httplib would otherwise slice the body a second time.
  const_cast<httplib::Request &>(req).ranges.clear();
  Call call(req, res);
  for (const auto &[name, value] : req.params) call.params[name] = value;
  Serve(call);
}

void Emulator::OnPost(const httplib::Request &req, httplib::Response &res, const httplib::ContentReader &reader) {
  const_cast<httplib::Request &>(req).ranges.clear();
  Call call(req, res);
  for (const auto &[name, value] : req.params) call.params[name] = value;
  bool routed = Route(call);
  if (routed && call.api != "_emulator") {
    stats_.CountRequest(call.api);
    call.fault = faults_.Decide(call.api, BucketNameForFaults(call));
  }
  bool upload = routed && IsUploadCall(call.api);
  std::optional<ApiError> early;
  std::optional<UploadGrant> grant;
  bool acquired = false;
  if (upload) {
    // Token and pairing checks happen before the body is read, like B2's front end.
    try {
      call.token = req.get_header_value("Authorization");
      std::string url_id = call.segments.size() >= 2 ? call.segments[1] : "";
      if (call.segments.size() < 2) throw ApiError(404, "not_found", "bad upload URL");
      grant = tokens_.CheckUpload(call.token, url_id);
      tokens_.AcquireUpload(call.token);
      acquired = true;
      if (!req.has_header("Content-Length")) {
        throw ApiError(411, "length_required", "Content-Length is required (no chunked uploads)");
      }
    } catch (const ApiError &error) {
      early = error;
    }
  }
  struct Release {
    TokenRegistry &tokens;
    const std::string &token;
    bool active;
    ~Release() {
      if (active) tokens.ReleaseUpload(token);
    }
  } release{tokens_, call.token, acquired};

  if (call.fault.rule && call.fault.rule->kind == "drop" && upload) {
    // Drop mid-upload: read part of the body, then cut the connection.
    size_t declared = std::stoull("0" + req.get_header_value("Content-Length"));
    size_t limit = static_cast<size_t>(static_cast<double>(declared) * call.fault.rule->at_fraction);
    size_t got = 0;
    reader([&](const char *, size_t length) {
      got += length;
      return got < limit;
    });
    stats_.CountFault("drop");
    stats_.CountStatus(call.api, 0);
    DropConnection(req);
    return;
  }
  bool ok = reader([&](const char *data, size_t length) {
    call.body.append(data, length);
    return true;
  });
  if (!ok) return;
  if (!routed) {
    ReplyError(call, 404, "not_found", "unknown path " + req.path);
    return;
  }
  if (call.api == "_emulator") {
    ServeControl(call);
    return;
  }
  // b2_download_file_by_id is a JSON call too: B2 accepts its fileId as a POST body.
  if ((!IsTransferCall(call.api) || call.api == "b2_download_file_by_id") && !call.body.empty()) {
    json body = json::parse(call.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      ReplyError(call, 400, "bad_json", "request body is not a JSON object");
      return;
    }
    for (auto &[name, value] : body.items()) call.params[name] = value;
  }
  if (early && !(call.fault.rule && call.fault.rule->kind != "drop" && call.fault.rule->kind != "corrupt")) {
    if (call.fault.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(call.fault.delay_ms));
    ReplyError(call, early->status, early->code, early->what());
    return;
  }
  call.grant = grant;
  Serve(call);
}

std::string Emulator::BucketNameForFaults(const Call &call) {
  if (call.segments.empty() || !IsUploadCall(call.api)) return call.bucket_name;
  std::lock_guard lock(store_mutex_);
  std::string bucket_id = call.segments[0];
  if (call.api == "b2_upload_part") {
    const FileVersion *version = store_.FindVersion(call.segments[0]);
    if (!version) return "";
    bucket_id = version->bucket_id;
  }
  const Bucket *bucket = store_.FindBucketById(bucket_id);
  return bucket ? bucket->name : "";
}

void Emulator::Serve(Call &call) {
  if (call.api.empty() && !Route(call)) {
    ReplyError(call, 404, "not_found", "unknown path " + call.req.path);
    return;
  }
  if (call.api == "_emulator") {
    ServeControl(call);
    return;
  }
  if (call.req.method != "POST") {
    stats_.CountRequest(call.api);
    call.fault = faults_.Decide(call.api, call.bucket_name);
  }
  try {
    if (call.fault.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(call.fault.delay_ms));
    if (call.fault.rule) {
      const FaultRule &rule = *call.fault.rule;
      if (rule.kind == "drop" && !IsDownloadCall(call.api)) {
        stats_.CountFault("drop");
        stats_.CountStatus(call.api, 0);
        DropConnection(call.req);
        return;
      }
      if (rule.kind == "status" || rule.kind == "cap_exceeded" || rule.kind == "expire_token") {
        if (rule.kind == "expire_token") tokens_.Expire(call.req.get_header_value("Authorization"));
        stats_.CountFault(rule.kind);
        ReplyError(call, rule.status, rule.code, rule.message, rule.retry_after);
        return;
      }
    }
    ApplyTestMode(call);
    if (IsUploadCall(call.api)) {
      if (!call.grant) throw ApiError(405, "method_not_allowed", "uploads must use POST");
      json reply = call.api == "b2_upload_file" ? UploadFile(call, *call.grant) : UploadPart(call, *call.grant);
      call.res.status = 200;
      call.res.set_content(reply.dump(2), "application/json;charset=utf-8");
    } else if (IsDownloadCall(call.api)) {
      Download(call);
    } else {
      auto it = json_calls_.find(call.api);
      if (it == json_calls_.end()) throw ApiError(404, "not_found", "unknown call " + call.api);
      json reply = (this->*(it->second))(call);
      call.res.status = 200;
      call.res.set_content(reply.dump(2), "application/json;charset=utf-8");
    }
  } catch (const ApiError &error) {
    ReplyError(call, error.status, error.code, error.what());
    return;
  } catch (const std::exception &error) {
    ReplyError(call, 500, "internal_error", error.what());
    return;
  }
  stats_.CountStatus(call.api, call.res.status);
}

// Real B2 injects these faults when a client sends X-Bz-Test-Mode; we do the same,
// deterministically (every 3rd upload fails, every 5th account-token call expires).
void Emulator::ApplyTestMode(Call &call) {
  std::string mode = call.req.get_header_value("X-Bz-Test-Mode");
  if (mode.empty()) return;
  if (mode == "fail_some_uploads" && IsUploadCall(call.api)) {
    if (++test_mode_uploads_ % 3 == 0) throw ApiError(503, "service_unavailable", "X-Bz-Test-Mode: fail_some_uploads");
  } else if (mode == "expire_some_account_authorization_tokens" && !IsUploadCall(call.api) &&
             call.api != "b2_authorize_account") {
    if (++test_mode_calls_ % 5 == 0) {
      tokens_.Expire(call.req.get_header_value("Authorization"));
      throw ApiError(401, "expired_auth_token", "X-Bz-Test-Mode: expire_some_account_authorization_tokens");
    }
  } else if (mode == "force_cap_exceeded" && IsUploadCall(call.api)) {
    throw ApiError(403, "cap_exceeded", "X-Bz-Test-Mode: force_cap_exceeded");
  }
}

void Emulator::ReplyError(Call &call, int status, const std::string &code, const std::string &message,
                          int retry_after) {
  call.res.status = status;
  if (retry_after >= 0) call.res.set_header("Retry-After", std::to_string(retry_after));
  json body = {{"status", status}, {"code", code}, {"message", message}};
  call.res.set_content(body.dump(2), "application/json;charset=utf-8");
  if (call.api != "_emulator") stats_.CountStatus(call.api.empty() ? "unknown" : call.api, status);
}

// httplib does not hand handlers their socket, so find it by the peer's port and shut it
// down: the client sees the connection die without (the rest of) a response.
void Emulator::DropConnection(const httplib::Request &req) {
  std::error_code ignored;
  for (const auto &entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    int fd = 0;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception &) {
      continue;
    }
    if (PeerPort(fd, false) == port_ && PeerPort(fd, true) == req.remote_port) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

void Emulator::ServeControl(Call &call) {
  const std::string what = call.segments.empty() ? "" : call.segments[0];
  try {
    if (what == "stats" && call.req.method != "POST") {
      call.res.set_content(stats_.ToJson().dump(2), "application/json");
    } else if (what == "stats" && call.segments.size() == 2 && call.segments[1] == "reset") {
      stats_.Reset();
      call.res.set_content("{}", "application/json");
    } else if (what == "faults" && call.req.method != "POST") {
      TokenExpiry expiry = tokens_.Expiry();
      json reply = {{"rules", faults_.Describe()},
                    {"token_expiry", {{"requests", expiry.requests}, {"seconds", expiry.seconds}}}};
      call.res.set_content(reply.dump(2), "application/json");
    } else if (what == "faults") {
      json body = call.body.empty() ? json::object() : json::parse(call.body);
      json rules_json = body.is_array() ? body : body.value("rules", json::array());
      std::vector<FaultRule> rules;
      uint64_t seed = body.is_object() ? body.value("seed", options_.seed) : options_.seed;
      for (const auto &j : rules_json) rules.push_back(FaultRuleFromJson(j, seed));
      bool append = body.is_object() && body.value("append", false);
      if (append) {
        faults_.Add(std::move(rules));
      } else {
        faults_.Replace(std::move(rules));
      }
      if (body.is_object() && body.contains("token_expiry")) {
        TokenExpiry expiry;
        expiry.requests = body["token_expiry"].value("requests", uint64_t{0});
        expiry.seconds = body["token_expiry"].value("seconds", int64_t{0});
        tokens_.SetExpiry(expiry);
      }
      call.res.set_content(json{{"rules", faults_.Describe()}}.dump(2), "application/json");
    } else if (what == "clock" && call.req.method == "POST") {
      json body = call.body.empty() ? json::object() : json::parse(call.body);
      SetClockOffsetMs(body.value("offset_seconds", int64_t{0}) * 1000);
      call.res.set_content(json{{"now_ms", NowMs()}}.dump(), "application/json");
    } else {
      throw std::invalid_argument("unknown control path");
    }
    call.res.status = 200;
  } catch (const std::exception &error) {
    ReplyError(call, 400, "bad_request", error.what());
  }
}

const Key &Emulator::AuthorizeCall(Call &call, const char *capability) {
  call.token = call.req.get_header_value("Authorization");
  if (call.token.empty() && call.params.contains("Authorization") && call.params["Authorization"].is_string()) {
    call.token = call.params["Authorization"].get<std::string>();  // download URLs may carry it
  }
  std::string key_id = tokens_.CheckAccount(call.token);
  const Key *key = store_.FindKey(key_id);
  if (!key) throw ApiError(401, "bad_auth_token", "the application key of this token was deleted");
  if (key->expires_ms != 0 && NowMs() > key->expires_ms) {
    throw ApiError(401, "expired_auth_token", "the application key has expired");
  }
  if (capability && !key->Has(capability)) {
    throw Unauthorized(std::string("application key lacks the ") + capability + " capability");
  }
  return *key;
}

void Emulator::CheckBucketAllowed(const Key &key, const std::string &bucket_id) {
  if (key.bucket_id && *key.bucket_id != bucket_id) throw Unauthorized("application key is restricted to another bucket");
}

void Emulator::CheckNameAllowed(const Key &key, const std::string &name) {
  if (key.name_prefix && name.rfind(*key.name_prefix, 0) != 0) {
    throw Unauthorized("application key is restricted to names starting with " + *key.name_prefix);
  }
}

const Bucket &Emulator::BucketParam(Call &call, const Key &key) {
  std::string bucket_id = RequireString(call.params, "bucketId");
  const Bucket *bucket = store_.FindBucketById(bucket_id);
  CheckBucketAllowed(key, bucket_id);
  if (!bucket) throw ApiError(400, "bad_bucket_id", "Invalid bucketId: " + bucket_id);
  return *bucket;
}

std::string Emulator::NewFileId(const std::string &bucket_id) const {
  return "4_z" + bucket_id + "_f" + RandomHex(15) + "_d" + RandomHex(8) + "_c000_v0001000_t0001";
}

}  // namespace dhanbak::emulator

#include "emulator/faults.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace dhanbak::emulator {

using nlohmann::json;

namespace {

const std::vector<std::string> kKinds = {"status", "drop", "corrupt", "delay", "cap_exceeded",
                                         "expire_token"};

std::string DefaultCode(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "cap_exceeded";
    case 408: return "request_timeout";
    case 429: return "too_many_requests";
    case 500: return "internal_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "internal_error" : "bad_request";
  }
}

std::vector<std::string> SplitList(const std::string &text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "upload" and "download" are shorthands for the call groups tests usually mean.
std::vector<std::string> ExpandApis(const std::vector<std::string> &apis) {
  std::vector<std::string> out;
  for (const auto &api : apis) {
    if (api == "*") return {};
    if (api == "upload") {
      out.insert(out.end(), {"b2_upload_file", "b2_upload_part"});
    } else if (api == "download") {
      out.insert(out.end(), {"b2_download_file_by_name", "b2_download_file_by_id"});
    } else {
      out.push_back(api);
    }
  }
  return out;
}

// A kind only makes sense for some calls; elsewhere the rule neither matches nor counts.
bool KindApplies(const FaultRule &rule, const std::string &api, const std::string &bucket) {
  if (rule.kind == "corrupt") return IsDownloadCall(api);
  if (rule.kind == "cap_exceeded") {
    return IsUploadCall(api) && (rule.bucket.empty() || rule.bucket == bucket);
  }
  if (rule.kind == "expire_token") return api != "b2_authorize_account";
  return true;
}

}  // namespace

bool IsUploadCall(const std::string &api) { return api == "b2_upload_file" || api == "b2_upload_part"; }

bool IsDownloadCall(const std::string &api) {
  return api == "b2_download_file_by_name" || api == "b2_download_file_by_id";
}

FaultRule FaultRuleFromJson(const json &j, uint64_t default_seed) {
  if (!j.is_object()) throw std::invalid_argument("a fault rule must be a JSON object");
  FaultRule rule;
  rule.kind = j.value("kind", j.contains("status") ? "status" : "");
  if (std::find(kKinds.begin(), kKinds.end(), rule.kind) == kKinds.end()) {
    throw std::invalid_argument("unknown fault kind '" + rule.kind + "'");
  }
  if (j.contains("api")) {
    if (j["api"].is_array()) {
      rule.apis = ExpandApis(j["api"].get<std::vector<std::string>>());
    } else {
      rule.apis = ExpandApis(SplitList(j["api"].get<std::string>(), '+'));
    }
  }
  if (rule.kind == "cap_exceeded") rule.status = 403;
  if (rule.kind == "expire_token") rule.status = 401;
  rule.status = j.value("status", rule.status);
  if (rule.status < 400 || rule.status > 599) throw std::invalid_argument("fault status must be 4xx or 5xx");
  rule.code = j.value("code", rule.kind == "expire_token" ? "expired_auth_token" : DefaultCode(rule.status));
  rule.message = j.value("message", "injected fault");
  rule.retry_after = j.value("retry_after", -1);
  rule.nth = j.value("nth", uint64_t{0});
  rule.every = j.value("every", uint64_t{0});
  rule.percent = j.value("percent", -1.0);
  rule.seed = j.value("seed", default_seed);
  rule.count = j.value("count", uint64_t{0});
  rule.delay_ms = j.value("delay_ms", rule.kind == "delay" ? 1000 : 0);
  rule.at_fraction = j.value("at_fraction", 0.5);
  rule.bucket = j.value("bucket", "");
  if (rule.at_fraction < 0 || rule.at_fraction > 1) throw std::invalid_argument("at_fraction must be in [0, 1]");
  rule.rng.seed(rule.seed);
  return rule;
}

json FaultSpecToJson(const std::string &spec) {
  json j = json::object();
  for (const auto &item : SplitList(spec, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("fault spec item '" + item + "' lacks '='");
    std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    json number = json::parse(value, nullptr, false);
    j[key] = (!number.is_discarded() && number.is_number()) ? number : json(value);
  }
  return j;
}

json ToJson(const FaultRule &r) {
  json j = {{"kind", r.kind}, {"api", r.apis}, {"status", r.status}, {"code", r.code},
            {"message", r.message}, {"count", r.count}, {"matched", r.matched}, {"fired", r.fired}};
  if (r.retry_after >= 0) j["retry_after"] = r.retry_after;
  if (r.nth) j["nth"] = r.nth;
  if (r.every) j["every"] = r.every;
  if (r.percent >= 0) {
    j["percent"] = r.percent;
    j["seed"] = r.seed;
  }
  if (r.delay_ms) j["delay_ms"] = r.delay_ms;
  if (r.kind == "drop" || r.kind == "corrupt") j["at_fraction"] = r.at_fraction;
  if (!r.bucket.empty()) j["bucket"] = r.bucket;
  return j;
}

void FaultInjector::Replace(std::vector<FaultRule> rules) {
  std::lock_guard lock(mutex_);
  rules_ = std::move(rules);
}

void FaultInjector::Add(std::vector<FaultRule> rules) {
  std::lock_guard lock(mutex_);
  for (auto &rule : rules) rules_.push_back(std::move(rule));
}

FaultDecision FaultInjector::Decide(const std::string &api, const std::string &bucket_name) {
  std::lock_guard lock(mutex_);
  FaultDecision decision;
  for (auto &rule : rules_) {
    if (!rule.apis.empty() && std::find(rule.apis.begin(), rule.apis.end(), api) == rule.apis.end()) continue;
    if (!KindApplies(rule, api, bucket_name)) continue;
    // A terminal fault was already chosen: later rules do not see this request.
    if (decision.rule && rule.kind != "delay") continue;
    ++rule.matched;
    if (rule.count != 0 && rule.fired >= rule.count) continue;
    bool fire = true;
    if (rule.nth != 0) {
      fire = rule.matched == rule.nth;
    } else if (rule.every != 0) {
      fire = rule.matched % rule.every == 0;
    } else if (rule.percent >= 0) {
      fire = std::uniform_real_distribution<double>(0, 100)(rule.rng) < rule.percent;
    }
    if (!fire) continue;
    ++rule.fired;
    decision.delay_ms += rule.delay_ms;
    if (rule.kind != "delay") decision.rule = rule;
  }
  return decision;
}

json FaultInjector::Describe() const {
  std::lock_guard lock(mutex_);
  json rules = json::array();
  for (const auto &rule : rules_) rules.push_back(ToJson(rule));
  return rules;
}

void Stats::CountRequest(const std::string &api) {
  std::lock_guard lock(mutex_);
  ++requests_;
  ++by_api_[api];
}

void Stats::CountStatus(const std::string &api, int status) {
  std::lock_guard lock(mutex_);
  ++by_status_[std::to_string(status)];
  ++status_by_api_[api][std::to_string(status)];
}

void Stats::CountFault(const std::string &kind) {
  std::lock_guard lock(mutex_);
  ++faults_[kind];
}

json Stats::ToJson() const {
  std::lock_guard lock(mutex_);
  return {{"requests", requests_}, {"by_api", by_api_}, {"by_status", by_status_},
          {"status_by_api", status_by_api_}, {"faults", faults_}};
}

void Stats::Reset() {
  std::lock_guard lock(mutex_);
  requests_ = 0;
  by_api_.clear();
  by_status_.clear();
  status_by_api_.clear();
  faults_.clear();
}

}  // namespace dhanbak::emulator

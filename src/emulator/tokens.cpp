#include "emulator/tokens.hpp"

#include "emulator/api_error.hpp"
#include "emulator/digest.hpp"
#include "emulator/model.hpp"

namespace dhanbak::emulator {

TokenRegistry::TokenRegistry() : epoch_(RandomHex(8)) {}

void TokenRegistry::SetExpiry(TokenExpiry expiry) {
  std::lock_guard lock(mutex_);
  expiry_ = expiry;
}

TokenExpiry TokenRegistry::Expiry() const {
  std::lock_guard lock(mutex_);
  return expiry_;
}

std::string TokenRegistry::IssueAccount(const std::string &key_id) {
  std::lock_guard lock(mutex_);
  std::string token = "4_" + epoch_ + "_a" + RandomHex(40);
  Entry entry;
  entry.grant.key_id = key_id;
  entry.issued_ms = NowMs();
  tokens_[token] = entry;
  return token;
}

std::string TokenRegistry::IssueUpload(UploadGrant grant) {
  std::lock_guard lock(mutex_);
  std::string token = "4_" + epoch_ + "_u" + RandomHex(40);
  Entry entry;
  entry.upload = true;
  entry.grant = std::move(grant);
  entry.issued_ms = NowMs();
  tokens_[token] = entry;
  return token;
}

TokenRegistry::Entry &TokenRegistry::Check(const std::string &token) {
  if (token.empty()) throw ApiError(401, "missing_auth_token", "Authorization header is missing");
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    bool earlier_run = token.size() > 12 && token.compare(0, 2, "4_") == 0 &&
                       token.compare(2, epoch_.size(), epoch_) != 0;
    if (earlier_run) throw ApiError(401, "expired_auth_token", "Authorization token has expired");
    throw ApiError(401, "bad_auth_token", "Invalid authorization token");
  }
  Entry &entry = it->second;
  ++entry.uses;
  if (expiry_.requests != 0 && entry.uses > expiry_.requests) entry.expired = true;
  if (expiry_.seconds != 0 && NowMs() - entry.issued_ms > expiry_.seconds * 1000) entry.expired = true;
  if (entry.expired) throw ApiError(401, "expired_auth_token", "Authorization token has expired");
  return entry;
}

std::string TokenRegistry::CheckAccount(const std::string &token) {
  std::lock_guard lock(mutex_);
  Entry &entry = Check(token);
  if (entry.upload) throw ApiError(401, "bad_auth_token", "An upload token cannot be used for this call");
  return entry.grant.key_id;
}

UploadGrant TokenRegistry::CheckUpload(const std::string &token, const std::string &url_id) {
  std::lock_guard lock(mutex_);
  Entry &entry = Check(token);
  if (!entry.upload) throw ApiError(401, "bad_auth_token", "Uploads need the token that came with the upload URL");
  if (entry.grant.url_id != url_id) {
    throw ApiError(401, "bad_auth_token", "The upload token does not belong to this upload URL");
  }
  return entry.grant;
}

void TokenRegistry::AcquireUpload(const std::string &token) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return;
  if (it->second.busy) {
    throw ApiError(400, "auth_token_limit", "The upload token is already in use by another upload");
  }
  it->second.busy = true;
}

void TokenRegistry::ReleaseUpload(const std::string &token) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it != tokens_.end()) it->second.busy = false;
}

void TokenRegistry::Expire(const std::string &token) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it != tokens_.end()) it->second.expired = true;
}

void TokenRegistry::ForgetKey(const std::string &key_id) {
  std::lock_guard lock(mutex_);
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.grant.key_id == key_id ? tokens_.erase(it) : std::next(it);
  }
}

}  // namespace dhanbak::emulator

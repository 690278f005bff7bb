// TomlField — one key/value of the configuration file, with typed getters whose errors name
// the file, the line and the dotted key ("FILE:LINE: key 'a.b' must be ...").
//
// Getters never echo the value they reject: a misplaced secret must not reach a log.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dhanbak/config.hpp"

namespace dhanbak::config_detail {

class TomlField {
 public:
  TomlField(const std::string& source, std::string key, const toml::node& node, uint32_t line)
      : source_(source), key_(std::move(key)), node_(node), line_(line) {}

  const std::string& key() const { return key_; }
  // "FILE:LINE" of the key.
  std::string Where() const;
  // Throws Error(kConfig) "FILE:LINE: key 'K' <problem>".
  [[noreturn]] void Fail(const std::string& problem) const;

  std::string String() const;
  // A string that is empty or starts with one of `schemes` (e.g. "https://").
  std::string Url(const std::vector<std::string>& schemes, bool allow_empty) const;
  // An integer in [min, max]; `what` names the accepted range in the message.
  int64_t Integer(int64_t min, int64_t max, const std::string& what) const;
  std::vector<std::string> StringList() const;
  bool Bool() const;
  // A non-empty string starting with '/'.
  std::string AbsolutePath() const;
  SecretRef Secret() const;
  // Duration string such as "30d"; zero is refused unless allow_zero.
  std::chrono::seconds Duration(bool allow_zero) const;
  // Rate: bytes per second as an integer, or a string such as "20MiB/s".
  uint64_t Rate() const;
  // Size: bytes as an integer, or a string such as "8GiB".
  uint64_t Size() const;

 private:
  // An integer, or a string ParseRate accepts; `example` goes into the message.
  uint64_t Bytes(const std::string& example) const;

  const std::string& source_;
  std::string key_;
  const toml::node& node_;
  uint32_t line_;
};

}  // namespace dhanbak::config_detail

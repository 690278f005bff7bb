// Percent-encoding and name rules of the B2 client (reference §4.1 and B2's string-encoding
// vectors as reproduced in the official CLI's tests).
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "storage/b2/name_encoding.hpp"

namespace b2_name_encoding_test {  // this file's names, apart from its unity batch's

using dhanbak::storage::b2::InvalidNameReason;
using dhanbak::storage::b2::PercentDecode;
using dhanbak::storage::b2::PercentEncodeName;

TEST_CASE("b2 percent-encoding follows B2's vectors") {
  // (string, minimal encoding): B2 never encodes A-Z a-z 0-9 - . _ ~ ! $ ' ( ) * ; = : @ /.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {" ", "%20"},   {"!", "!"},     {"\"", "%22"},  {"#", "%23"},    {"$", "$"},
      {"%", "%25"},   {"&", "%26"},   {"'", "'"},     {"(", "("},      {")", ")"},
      {"*", "*"},     {"+", "%2B"},   {",", "%2C"},   {"-", "-"},      {".", "."},
      {"/", "/"},     {"0", "0"},     {"9", "9"},     {":", ":"},      {";", ";"},
      {"<", "%3C"},   {"=", "="},     {">", "%3E"},   {"?", "%3F"},    {"@", "@"},
      {"A", "A"},     {"Z", "Z"},     {"[", "%5B"},   {"\\", "%5C"},   {"]", "%5D"},
      {"^", "%5E"},   {"_", "_"},     {"`", "%60"},   {"a", "a"},      {"z", "z"},
      {"{", "%7B"},   {"|", "%7C"},   {"}", "%7D"},   {"~", "~"},      {"\x7f", "%7F"},
      {"\xe8\x82\x89", "%E8%82%89"},  {"\xf0\x9f\x98\x82", "%F0%9F%98%82"},
  };
  for (const auto& [plain, encoded] : vectors) {
    const std::string& name = plain;  // CAPTURE takes a lambda capture: not a structured binding (clang 14)
    CAPTURE(name);
    CHECK(PercentEncodeName(plain) == encoded);
    CHECK(PercentDecode(encoded) == plain);
  }
}

TEST_CASE("b2 percent-encoding of a whole name, as the official CLI sends it") {
  CHECK(PercentEncodeName("chunks/ab/c d+\xc3\xa9.bin") == "chunks/ab/c%20d%2B%C3%A9.bin");
  CHECK(PercentEncodeName("repo/chunks/00/0a1b-2c.dat") == "repo/chunks/00/0a1b-2c.dat");
}

TEST_CASE("b2 percent-decoding accepts minimal and full encodings") {
  CHECK(PercentDecode("a+b") == "a b");  // B2 reads '+' as a space
  CHECK(PercentDecode("a%2Bb") == "a+b");
  CHECK(PercentDecode("%61%2f%62") == "a/b");  // lower-case hex, fully encoded
  CHECK(PercentDecode("100%") == "100%");      // malformed escapes stay literal
  CHECK(PercentDecode("%zz") == "%zz");
}

TEST_CASE("b2 name rules refuse what B2 refuses") {
  CHECK(InvalidNameReason("a/b/c.bin").empty());
  CHECK(InvalidNameReason("sp ace/plus+/\xc3\xa9").empty());
  std::string long_name;
  while (long_name.size() < 1024) long_name += (long_name.size() % 200 == 199) ? '/' : 'x';
  CHECK(InvalidNameReason(long_name).empty());
  CHECK_FALSE(InvalidNameReason("").empty());
  CHECK_FALSE(InvalidNameReason(long_name + "x").empty());
  CHECK_FALSE(InvalidNameReason("/a").empty());
  CHECK_FALSE(InvalidNameReason("a/").empty());
  CHECK_FALSE(InvalidNameReason("a//b").empty());
  CHECK_FALSE(InvalidNameReason("a\\b").empty());
  CHECK_FALSE(InvalidNameReason("a\nb").empty());
  CHECK_FALSE(InvalidNameReason("a\x7f").empty());
  CHECK_FALSE(InvalidNameReason("a/" + std::string(251, 'x')).empty());
  CHECK(InvalidNameReason("a/" + std::string(250, 'x')).empty());
}

}  // namespace b2_name_encoding_test

// Small text helpers for values that come from outside (headers, query strings, form fields). Stateless.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iotstream {

// A whole decimal integer, or nullopt (empty, sign only, trailing characters, out of range).
inline std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

// ASCII lower case (header names, media types); other bytes are kept.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace iotstream

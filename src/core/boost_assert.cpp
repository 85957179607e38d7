// Boost's assertion handler for the sanitizer builds (they define BOOST_ENABLE_ASSERT_HANDLER: CMakeLists.txt),
// which turn asserts back on. It aborts as assert() does, except on one assertion of Beast 1.81 that is wrong:
// the request parser, given the final chunk of an empty chunked body ("0\r\n") and then fewer bytes than the rest
// of it, asserts 4 >= 5 and would go on correctly (asking for more). Fixed upstream in Boost 1.86
// (boostorg/beast#2861); release builds never check it. Found by fuzz/http_request_fuzzer.cpp.
#include <boost/version.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

bool KnownWrongAssertion([[maybe_unused]] const char* expr, [[maybe_unused]] const char* file) {
#if BOOST_VERSION < 108600
  return std::strcmp(expr, "n >= 5") == 0 &&
         std::string_view(file).ends_with("boost/beast/http/impl/basic_parser.ipp");
#else
  return false;
#endif
}

}  // namespace

namespace boost {

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file, long line) {
  if (KnownWrongAssertion(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed%s%s.\n", file, line, function, expr, msg ? ": " : "",
               msg ? msg : "");
  std::abort();
}

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  assertion_failed_msg(expr, nullptr, function, file, line);
}

}  // namespace boost

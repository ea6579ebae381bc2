// A program that uses beanpole the way an application would, built by the packaging tests against
// an installed tree (find_package, pkg-config) and against the source tree (add_subdirectory).
// It needs no server: it exercises the codec, the error category and the generated version header,
// which is enough to prove that headers, library and compile definitions all reach the consumer.
#include <beanpole/beanpole.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  const beanpole::tube_name tube("packaging.test-tube");
  check(tube.view() == "packaging.test-tube", "tube_name keeps its name");
  check(!beanpole::tube_name::is_valid("-starts-with-dash"), "an invalid tube name is refused");

  // An exception thrown inside the library is caught here by its type.
  bool threw = false;
  try {
    const beanpole::tube_name bad("has space");
    static_cast<void>(bad);
  } catch (const beanpole::error& e) {
    threw = e.code() == beanpole::errc::invalid_tube_name;
  }
  check(threw, "tube_name throws beanpole::error(invalid_tube_name)");

  beanpole::proto::put_command put;
  put.pri = 7;
  put.delay = std::chrono::seconds(3);
  put.ttr = std::chrono::seconds(120);
  put.body = "hello";
  std::string wire;
  const std::error_code ec = put.encode(wire);
  check(!ec, "put_command::encode succeeds");
  check(wire == std::string_view("put 7 3 120 5\r\nhello\r\n"), "put_command::encode bytes");

  std::string use_wire;
  check(!beanpole::proto::use_command{tube}.encode(use_wire), "use_command::encode succeeds");
  check(use_wire == "use packaging.test-tube\r\n", "use_command::encode bytes");

  const std::error_code not_found = beanpole::errc::not_found;
  check(not_found.category().name() == std::string_view("beanpole"), "error category name");

#ifdef CONSUMER_EXPECTED_VERSION
  check(std::string_view(beanpole::version) == CONSUMER_EXPECTED_VERSION,
        "beanpole::version is the version being packaged");
#endif

  std::printf("beanpole %s: %s\n", beanpole::version, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

// A consumer of beanpole::proto alone: the codec and its vocabulary, no I/O, no Asio.
#include <beanpole/error.hpp>
#include <beanpole/proto/commands.hpp>
#include <beanpole/proto/reply_parser.hpp>
#include <beanpole/types.hpp>
#include <beanpole/version.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "check.hpp"
#include "no_asio.hpp"

using consumer::check;

int main() {
  const beanpole::tube_name tube("packaging.test-tube");
  check(tube.view() == "packaging.test-tube", "tube_name keeps its name");

  beanpole::proto::put_command put;
  put.pri = 7;
  put.delay = std::chrono::seconds(3);
  put.ttr = std::chrono::seconds(120);
  put.body = "hello";
  std::string wire;
  check(!put.encode(wire), "put_command::encode succeeds");
  check(wire == std::string_view("put 7 3 120 5\r\nhello\r\n"), "put_command::encode bytes");

  beanpole::proto::reply_parser parser;
  std::string_view input("INSERTED 42\r\n");
  const auto result = parser.parse(input);
  check(result.status == beanpole::proto::parse_status::ready && result.consumed == input.size(),
        "the parser reads a whole reply");
  check(parser.get().kind == beanpole::proto::reply_kind::inserted && parser.get().number == 42,
        "the parser reads INSERTED 42");

  const std::error_code not_found = beanpole::errc::not_found;
  check(not_found.category().name() == std::string_view("beanpole"), "error category name");

#ifdef CONSUMER_EXPECTED_VERSION
  check(std::string_view(beanpole::version) == CONSUMER_EXPECTED_VERSION,
        "beanpole::version is the version being packaged");
#endif
  return consumer::finish("proto");
}

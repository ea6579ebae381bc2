// A consumer of the umbrella beanpole::beanpole through the umbrella header, the way an
// application would use it. It needs no server: it touches a piece of every layer, which is
// enough to prove that headers, libraries and compile definitions all reach the consumer.
#include <beanpole/beanpole.hpp>

#include <asio/io_context.hpp>
#include <cstdio>
#include <string>
#include <string_view>

#include "check.hpp"

using consumer::check;

int main() {
  // proto: an exception thrown inside the library is caught here by its type.
  bool threw = false;
  try {
    const beanpole::tube_name bad("has space");
    static_cast<void>(bad);
  } catch (const beanpole::error& e) {
    threw = e.code() == beanpole::errc::invalid_tube_name;
  }
  check(threw, "tube_name throws beanpole::error(invalid_tube_name)");

  std::string use_wire;
  const beanpole::tube_name tube("packaging.test-tube");
  check(!beanpole::proto::use_command{tube}.encode(use_wire), "use_command::encode succeeds");
  check(use_wire == "use packaging.test-tube\r\n", "use_command::encode bytes");

  // client, async, worker: objects of each, without a server.
  const beanpole::client blocking;
  check(!blocking.is_open(), "a client made without an endpoint is not connected");
  asio::io_context io;
  const beanpole::async_client async(io.get_executor(), beanpole::endpoint::tcp("127.0.0.1"));
  check(async.in_flight() == 0, "a new async client has nothing in flight");
  const beanpole::worker worker(io.get_executor(), beanpole::endpoint::tcp("127.0.0.1"));
  check(worker.metrics().tubes.empty(), "a new worker has no counters");

#ifdef CONSUMER_EXPECTED_VERSION
  check(std::string_view(beanpole::version) == CONSUMER_EXPECTED_VERSION,
        "beanpole::version is the version being packaged");
#endif
  std::printf("beanpole %s\n", beanpole::version);
  return consumer::finish("beanpole");
}

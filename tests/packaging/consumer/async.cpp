// A consumer of beanpole::async: the Asio client on an io_context of the program's own. It needs
// no server: it checks the error of a connection that cannot be made.
#include <asio/io_context.hpp>
#include <beanpole/async_client.hpp>

#include <system_error>

#include "check.hpp"

using consumer::check;

int main() {
  asio::io_context io;
  beanpole::async_client client(
      io.get_executor(), beanpole::endpoint::unix_socket("/nonexistent/beanpole-packaging.sock"));
  bool completed = false;
  std::error_code result;
  client.async_connect([&](std::error_code ec) {
    completed = true;
    result = ec;
  });
  io.run();
  check(completed && static_cast<bool>(result), "connecting to a missing socket fails");
  return consumer::finish("async");
}

// A consumer of beanpole::client alone: the blocking client, built with Asio out of reach (see
// no_asio.hpp). It needs no server: it checks the errors of a client that cannot connect.
#include <beanpole/client.hpp>
#include <beanpole/endpoint.hpp>
#include <beanpole/error.hpp>

#include <system_error>

#include "check.hpp"
#include "no_asio.hpp"

using consumer::check;

int main() {
  beanpole::connection_options options;
  options.connect_timeout = std::chrono::seconds(2);
  beanpole::client client(options);
  check(!client.is_open(), "a client made without an endpoint is not connected");

  std::error_code ec;
  client.use(beanpole::tube_name("packaging"), ec);
  check(ec == beanpole::errc::not_connected, "a command before connect fails with not_connected");

  ec.clear();
  client.connect(beanpole::endpoint::unix_socket("/nonexistent/beanpole-packaging.sock"), ec);
  check(static_cast<bool>(ec) && !client.is_open(), "connecting to a missing socket fails");
  return consumer::finish("client");
}

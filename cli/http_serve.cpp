#include "http_serve.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "errors.hpp"
#include "terminal.hpp"

namespace beanpole::cli {
namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace

listen_address parse_listen(std::string_view text, bool allow_remote, std::string_view command) {
  const auto bad = [&] {
    return usage_error(
        fmt::format("{}: --listen '{}': expected HOST:PORT or [IPV6]:PORT", command, text));
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) throw bad();
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw bad();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw bad();  // an IPv6 literal needs brackets
  }
  listen_address out;
  out.host = std::string(host);
  const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || err != std::errc{} || end != port.data() + port.size()) throw bad();
  out.loopback = is_loopback(out.host);
  if (!out.loopback && !allow_remote) {
    throw usage_error(fmt::format(
        "{}: --listen {} is not a loopback address: add --allow-remote to serve other hosts",
        command, text));
  }
  return out;
}

int serve_until_signal(httplib::Server& server, const listen_address& where,
                       std::string_view command) {
  int port = where.port;
  if (where.port == 0) {
    port = server.bind_to_any_port(where.host);
  } else if (!server.bind_to_port(where.host, where.port)) {
    port = -1;
  }
  if (port <= 0) {
    throw plain_failure(exit_failure,
                        fmt::format("{}: cannot listen on {}:{}", command, where.host, where.port));
  }
  const std::string shown = where.host.find(':') != std::string::npos
                                ? fmt::format("[{}]:{}", where.host, port)
                                : fmt::format("{}:{}", where.host, port);
  std::cerr << fmt::format("beanpole {}: listening on http://{}/\n", command, shown) << std::flush;

  signal_watch signals;
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load() && signal_watch::stop_signal() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    server.stop();
  });
  server.listen_after_bind();
  done = true;
  watcher.join();
  return exit_ok;
}

}  // namespace beanpole::cli

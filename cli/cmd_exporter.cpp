// exporter: the servers' statistics as Prometheus metrics over HTTP, read afresh at each scrape.
// The exposition is the admin layer's (format_prometheus), shared with the console.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include <beanpole/admin/exposition.hpp>

#include "commands.hpp"
#include "errors.hpp"
#include "http_serve.hpp"

namespace beanpole::cli {
namespace {

struct exporter_args {
  std::string listen = "127.0.0.1:9127";
  bool allow_remote = false;
};

/// The servers of -a: one address, or several separated by commas.
std::vector<endpoint> servers_of(const context& ctx) {
  std::vector<endpoint> out;
  if (!ctx.several()) {
    out.push_back(ctx.server());
    return out;
  }
  for (const auto& one : ctx.addresses()) {
    endpoint ep;
    if (endpoint::parse(one, ep)) {
      throw usage_error(fmt::format(
          "invalid address '{}' in --addr: expected HOST:PORT or tls://HOST:PORT", one));
    }
    ctx.apply_tls(ep);
    out.push_back(ep);
  }
  if (ctx.has_tls_options() &&
      std::none_of(out.begin(), out.end(), [](const endpoint& ep) { return ep.is_tls(); })) {
    throw usage_error(
        "--tls-ca, --tls-cert, --tls-key and --tls-server-name need a tls:// address");
  }
  return out;
}

/// One scrape: a fresh connection to every server, so that a restarted server is seen as it is.
std::string scrape(const std::vector<endpoint>& servers, const connection_options& opts) {
  std::vector<server_snapshot> snaps;
  for (const auto& ep : servers) {
    client c(opts);
    std::error_code ec;
    c.connect(ep, ec);
    server_snapshot s;
    s.address = ep.to_string();
    if (!ec) s = take_snapshot(c, ep.to_string(), ec);
    snaps.push_back(std::move(s));
  }
  return format_prometheus(snaps);
}

int run_exporter(const context& ctx, const exporter_args& a) {
  const listen_address where = parse_listen(a.listen, a.allow_remote, "exporter");
  const std::vector<endpoint> servers = servers_of(ctx);
  const connection_options opts = ctx.connection();
  httplib::Server http;
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(scrape(servers, opts), prometheus_content_type);
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("beanpole exporter: metrics at /metrics\n", "text/plain; charset=utf-8");
  });
  return serve_until_signal(http, where, "exporter");
}

}  // namespace

void add_exporter_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<exporter_args>();
  auto* cmd = app.add_subcommand("exporter", "Serve the server's statistics to Prometheus");
  cmd->group(group_serve);
  cmd->footer(
      "Serves GET /metrics in the Prometheus text format 0.0.4, read afresh from the\n"
      "server(s) at each scrape (-a may list several, separated by commas):\n"
      "  beanstalkd_up                  1, or 0 when that server could not be read\n"
      "  beanstalkd_<field>             every integer field of stats ('-' as '_')\n"
      "  beanstalkd_tube_<field>        every integer field of stats-tube, {tube=\"NAME\"}\n"
      "Every sample has server=\"ADDR\". total-* and cmd-* fields are counters, the others\n"
      "gauges. The endpoint answers 200 even when a server is down (beanstalkd_up 0).\n"
      "Listens on 127.0.0.1:9127 by default; a non-loopback --listen needs --allow-remote\n"
      "(exit 2 without it). Port 0 picks a free port; the address is printed on stderr.\n"
      "Runs until SIGINT or SIGTERM.");
  cmd->add_option("--listen", a->listen, "Address to serve on (default 127.0.0.1:9127)")
      ->type_name("HOST:PORT");
  cmd->add_flag("--allow-remote", a->allow_remote, "Allow a non-loopback --listen address");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_exporter(ctx, *a); }; });
}

}  // namespace beanpole::cli
